import Foundation
import FuzzTargets

#if FUZZING
import CFuzzer

/// Under libFuzzer (built with `-sanitize=fuzzer,address -DFUZZING`, see `Scripts/fuzz.sh`):
/// the target named by `BPFREE_FUZZ_TARGET`, driven by libFuzzer with this command's arguments.
@main
struct Fuzzing {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        })
    }
}

/// The entry libFuzzer's own `main` (linked in by -sanitize=fuzzer) refers to.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["BPFREE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("BPFREE_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()
#else
/// Without libFuzzer: `bpfree-fuzz TARGET FILE-OR-FOLDER…` runs the target on each input (to
/// replay a corpus or a crash found elsewhere).
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: bpfree-fuzz TARGET FILE-OR-FOLDER…; targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            let files = isFolder.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run([UInt8](data))
                count += 1
            }
        }
        print("\(name): \(count) inputs, no crash")
    }
}
#endif
