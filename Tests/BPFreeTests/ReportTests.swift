import Foundation
import Records
#if canImport(FoundationXML)
import FoundationXML
#endif
import Reporting
import Results
import Testing
import TestSupport
@testable import bpfree

/// `bpfree report` on a store filled by a synthetic-data bench.
@Suite struct ReportTests {
    static let folder: String = {
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/bench.sqlite"
        try! Bench.parse(["--suite", "quick", "--algorithms", "ff,mf,dfa,cafo-rand-ce", "--datasets", "synthetic:samples=600,classes=3,shape=6x6",
                          "--architecture", "mlp:12,12",
                          "--architecture", "cnn:3,6", "--trials", "2", "--epochs", "2", "--final-epochs", "2", "--seeds", "2",
                          "--threads", "1", "--store", store]).run()
        try! ReportCommand.parse(["--store", store, "--out", folder + "/report"]).run()
        return folder
    }()

    static func file(_ name: String) throws -> String { try String(contentsOfFile: folder + "/report/" + name, encoding: .utf8) }

    static func matches(_ pattern: String, in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
            String(text[Range($0.range(at: $0.numberOfRanges > 1 ? 1 : 0), in: text)!])
        }
    }

    /// Sections, table captions, and each chart's title with its number of series.
    @Test func htmlStructureSnapshot() throws {
        let html = try Self.file("report.html")
        var lines = Self.matches("<h2>(.*?)</h2>", in: html).map { "section: \($0)" }
        lines += Self.matches("<caption>(.*?)</caption>", in: html).map { "table: \($0)" }
        for svg in Self.matches("(<svg.*?</svg>)", in: html) {
            let title = Self.matches("<title>(.*?)</title>", in: svg).first ?? "?"
            lines.append("chart: \(title) — \(Self.matches("class=\"series\"", in: svg).count) series")
        }
        // "measured under load" depends on what else ran beside the bench (the other tests), not on the code.
        lines += Self.matches("<li><strong>(.*?)</strong>", in: html).filter { $0 != "measured under load" }.map { "audit: \($0)" }
        lines += Self.matches("<p class=\"fair\">(.*?)</p>", in: html).map { "audit: \($0)" }
        let structure = lines.joined(separator: "\n") + "\n"
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/report-structure.txt")
        if ProcessInfo.processInfo.environment["BPFREE_RECORD_SNAPSHOTS"] != nil {
            // Recording writes the snapshot; it does not also compare against what it just wrote.
            try structure.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(structure == (try String(contentsOf: url, encoding: .utf8)), "run with BPFREE_RECORD_SNAPSHOTS=1 to re-record after an intended change")
    }

    @Test func everySVGIsWellFormedWithFinitePaths() throws {
        let html = try Self.file("report.html")
        let charts = Self.matches("(<svg.*?</svg>)", in: html)
        #expect(charts.count > 10)
        for svg in charts {
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "") in \(svg.prefix(120))")
            for d in Self.matches("\\sd=\"([^\"]*)\"", in: svg) {
                let numbers = Self.matches("([-0-9.eE+a-zA-Z]+)", in: d.replacingOccurrences(of: ",", with: " ")).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "MLZ")) }
                #expect(numbers.allSatisfy { $0.isEmpty || Double($0)?.isFinite == true }, "path \(d)")
            }
            // No non-finite number anywhere (the words "inference" and "nano" are fine).
            #expect(Self.matches("\\b((?:-?inf|nan))\\b", in: svg.lowercased()).isEmpty)
        }
    }

    /// Every arm's n and mean test accuracy in tables.md are those of the store's final runs.
    @Test func tablesMatchTheStore() throws {
        let markdown = try Self.file("tables.md")
        let runs = try ResultsStore(path: Self.folder + "/bench.sqlite").runs().filter { $0.role == .final }
        let arms = Dictionary(grouping: runs) { "\($0.comparison!)|\($0.algorithm)" }
        #expect(arms.count == 7)  // ff, mf, dfa, its shallow control and BP on the MLP; CaFo and BP on the CNN
        for (key, members) in arms {
            let parts = key.split(separator: "|").map(String.init)
            let mean = members.compactMap(\.testAccuracy).map { $0 * 100 }.reduce(0, +) / Double(members.count)
            let row = "| \(parts[1]) | \(members.count) | \(String(format: "%.2f", mean)) ± "
            let section = markdown.components(separatedBy: "\n## ").first { $0.hasPrefix(parts[0]) } ?? ""
            #expect(section.contains(row), "\(key): no row starting \(row)")
        }
        #expect(markdown.contains("#### Fairness audit"))
        let csv = try Self.file("runs.csv").split(separator: "\n")
        #expect(csv.count == runs.count + 1)
    }
}
