import Foundation
import Testing
import FuzzTargets

/// Every fuzz target replays its committed corpus (`Fuzz/Corpus`) and the inputs of every crash
/// fuzzing found (`Fuzz/Crashes`, kept once fixed) without crashing; `Scripts/fuzz.sh` runs the
/// targets under libFuzzer and AddressSanitizer.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [String] {
        let folder = "\(root)/\(kind)/\(target.rawValue)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().map { folder + "/" + $0 }
    }

    @Test(arguments: FuzzTarget.allCases)
    func replaysItsCorpusAndEveryCrashFound(target: FuzzTarget) throws {
        let corpus = Self.inputs("Corpus", target)
        #expect(!corpus.isEmpty, "a committed seed corpus")
        for path in corpus + Self.inputs("Crashes", target) {
            target.run([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}
