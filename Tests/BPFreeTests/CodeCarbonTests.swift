import Experiments
import Foundation
import Records
import Testing
import TestSupport

/// `--emissions`: a CodeCarbon 3.0.1 `emissions.csv` (the version the study ran), checked by
/// CodeCarbon's own code from PyPI in a virtual environment made once and cached.
@Suite(.serialized) struct CodeCarbonTests {
    // carbonboard 3.0.1 needs the dash 1.x component packages its pinned bootstrap components import.
    static let packages = ["codecarbon[viz]==3.0.1", "dash-html-components", "dash-core-components", "dash-table"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scripts/codecarbon_check.py").standardized.path

    /// The bar: CodeCarbon accepts the header, appends its own row without backing the
    /// file up, and carbonboard loads it; an estimate is written as CodeCarbon's process mode.
    @Test func codeCarbonReadsAndAppendsToBpfreesEmissionsFile() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let folder = IDXFiles.temporaryFolder()
        let file = folder + "/emissions.csv"
        for (algorithm, country) in [("mf", "FRA"), ("bp", "DEU")] {
            try PythonEnvironment.run(binary, ["train", "--algorithm", algorithm, "--dataset", "synthetic", "--epochs", "2", "--threads", "1",
                                               "--no-store", "--country", country, "--emissions", file, "--output", folder + "/\(algorithm).json"])
        }
        let python = try PythonEnvironment.python(named: "codecarbon-3.0.1", packages: Self.packages)
        let output = try PythonEnvironment.run(python, [Self.script, "--file", file])
        let read = try #require(try JSONSerialization.jsonObject(with: Data((output.split(separator: "\n").last ?? "").utf8)) as? [String: Any], "\(output)")
        #expect(read["codecarbon"] as? String == "3.0.1")
        #expect(read["valid_headers"] as? Bool == true)
        #expect(read["files_after"] as? [String] == ["bp.json", "emissions.csv", "mf.json"],
                "no backup of the file: \(read)")
        #expect(read["rows"] as? Int == 3 && read["projects"] as? [String] == ["bpfree", "codecarbon"] && read["bpfree_rows"] as? Int == 2)
        #expect(read["tracking_modes"] as? [String] == ["process", "process"], "no meter here: the estimate is CodeCarbon's process model")
        #expect((read["choropleth_countries"] as? Int ?? 0) > 100)
        // Units: kWh and kg, from the record's joules and grams.
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/mf.json")))
        let kWh = try #require((read["energy_consumed"] as? [Double])?.first), kg = try #require((read["emissions"] as? [Double])?.first)
        #expect(abs(kWh - record.energyJoules! / 3_600_000) <= 1e-9 * max(1, kWh))
        #expect(abs(kg - record.co2eGrams! / 1000) <= 1e-12 + 1e-9 * kg)
    }

    /// A file with other columns is refused by name and left as it was.
    @Test func aFileWithOtherColumnsIsRefusedAndKept() throws {
        let file = IDXFiles.temporaryFolder() + "/other.csv"
        try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect { try CodeCarbonEmissions.append(RunRecord.example(seed: 1), to: file) } throws: {
            "\($0)".hasPrefix("--emissions: \(file): its header is not CodeCarbon 3.0.1's columns")
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "a,b\n1,2\n")
        #expect(CodeCarbonEmissions.columns.count == 32 && CodeCarbonEmissions.columns.last == "pue")
        // A measured source is the machine's, with the meter's energy as the CPU's.
        var record = RunRecord.example(seed: 1)
        record.energySource = "rapl"
        record.energyJoules = 7200
        record.energyByMeter = ["rapl": 7200]
        let row = CodeCarbonEmissions.row(record)
        #expect(row["tracking_mode"] == "machine" && row["cpu_energy"] == "0.002" && row["ram_energy"] == "0.0" && row["energy_consumed"] == "0.002")
    }
}
