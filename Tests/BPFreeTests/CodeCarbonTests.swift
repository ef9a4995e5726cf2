import Experiments
import Foundation
import Records
import Testing
import TestSupport

/// `--emissions`: CodeCarbon's `emissions.csv` as its users have it, checked by CodeCarbon's own
/// code from PyPI in virtual environments made once and cached: 3.0.1 (the version the study
/// ran) and 3.3.2 (current, 38 columns).
@Suite(.serialized) struct CodeCarbonTests {
    // carbonboard 3.0.1 needs the dash 1.x component packages its pinned bootstrap components import.
    static let packages = ["3.0.1": ["codecarbon[viz]==3.0.1", "dash-html-components", "dash-core-components", "dash-table"],
                           "3.3.2": ["codecarbon==3.3.2"]]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scripts/codecarbon_check.py").standardized.path

    /// The bar: CodeCarbon accepts the header, appends its own row without backing the
    /// file up (and 3.0.1's carbonboard loads it); an estimate is written as CodeCarbon's process
    /// mode. A new file takes current CodeCarbon's columns; a file begun by 3.0.1 keeps its own.
    @Test(arguments: ["3.0.1", "3.3.2"])
    func codeCarbonReadsAndAppendsToBpfreesEmissionsFile(version: String) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let folder = IDXFiles.temporaryFolder()
        let file = folder + "/emissions.csv"
        let layout: CodeCarbonEmissions.Layout = version == "3.0.1" ? .v3_0_1 : .v3_3
        if layout == .v3_0_1 { try Data((layout.columns.joined(separator: ",") + "\n").utf8).write(to: URL(fileURLWithPath: file)) }
        for (algorithm, country) in [("mf", "FRA"), ("bp", "DEU")] {
            try PythonEnvironment.run(binary, ["train", "--algorithm", algorithm, "--dataset", "synthetic", "--epochs", "2", "--threads", "1",
                                               "--no-store", "--country", country, "--emissions", file, "--output", folder + "/\(algorithm).json"])
        }
        let python = try PythonEnvironment.python(named: "codecarbon-\(version)", packages: Self.packages[version]!)
        let output = try PythonEnvironment.run(python, [Self.script, "--file", file])
        let read = try #require(try JSONSerialization.jsonObject(with: Data((output.split(separator: "\n").last ?? "").utf8)) as? [String: Any], "\(output)")
        #expect(read["codecarbon"] as? String == version)
        #expect(read["valid_headers"] as? Bool == true)
        #expect(read["columns"] as? [String] == layout.columns)
        #expect(read["files_after"] as? [String] == ["bp.json", "emissions.csv", "mf.json"],
                "no backup of the file: \(read)")
        #expect(read["rows"] as? Int == 3 && read["projects"] as? [String] == ["bpfree", "codecarbon"] && read["bpfree_rows"] as? Int == 2)
        #expect(read["tracking_modes"] as? [String] == ["process", "process"], "no meter here: the estimate is CodeCarbon's process model")
        if layout == .v3_0_1 { #expect((read["choropleth_countries"] as? Int ?? 0) > 100 && read["bpfree_rows_viz"] as? Int == 2) }
        // Units: kWh and kg, from the record's joules and grams.
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/mf.json")))
        let kWh = try #require((read["energy_consumed"] as? [Double])?.first), kg = try #require((read["emissions"] as? [Double])?.first)
        #expect(abs(kWh - record.energyJoules! / 3_600_000) <= 1e-9 * max(1, kWh))
        #expect(abs(kg - record.co2eGrams! / 1000) <= 1e-12 + 1e-9 * kg)
        // bpfree appends after CodeCarbon's own row, in the same columns.
        try PythonEnvironment.run(binary, ["train", "--algorithm", "bp", "--dataset", "synthetic", "--epochs", "1", "--threads", "1",
                                           "--no-store", "--emissions", file])
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5 && String(lines[0]) == layout.columns.joined(separator: ","))
    }

    /// A file with other columns is refused by name and left as it was.
    @Test func aFileWithOtherColumnsIsRefusedAndKept() throws {
        let file = IDXFiles.temporaryFolder() + "/other.csv"
        try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect { try CodeCarbonEmissions.append(RunRecord.example(seed: 1), to: file) } throws: {
            "\($0)".hasPrefix("--emissions: \(file): its header is neither CodeCarbon 3.3's columns (38: ")
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "a,b\n1,2\n")
        #expect(CodeCarbonEmissions.Layout.v3_0_1.columns.count == 32 && CodeCarbonEmissions.Layout.v3_0_1.columns.last == "pue")
        #expect(CodeCarbonEmissions.Layout.v3_3.columns.count == 38 && CodeCarbonEmissions.Layout.v3_3.columns.last == "wue")
        // A measured source is the machine's, with the meter's energy as the CPU's.
        var record = RunRecord.example(seed: 1)
        record.energySource = "rapl"
        record.energyJoules = 7200
        record.energyByMeter = ["rapl": 7200]
        let row = CodeCarbonEmissions.row(record)
        #expect(row["tracking_mode"] == "machine" && row["cpu_energy"] == "0.002" && row["ram_energy"] == "0.0" && row["energy_consumed"] == "0.002")
    }
}
