import Foundation

/// A shared library opened at run time with `dlopen`, so that bpfree builds and runs with no
/// NVIDIA library present. It is looked for, in order, in `BPFREE_CUDA_LIBS` (folders separated
/// by `:`), `CUDA_HOME`'s `lib64` and `lib`, the NVIDIA wheels of the `python3` on `PATH`
/// (`site-packages/nvidia/cu13/lib`, `site-packages/nvidia/*/lib`), and the loader's own path.
public final class SharedLibrary: @unchecked Sendable {
    /// Where the library was found (the name alone when the loader found it).
    public let path: String
    private let handle: UnsafeMutableRawPointer

    private init(path: String, handle: UnsafeMutableRawPointer) {
        self.path = path
        self.handle = handle
    }

    /// A library that could not be opened, with every place searched.
    public struct NotFound: Error, CustomStringConvertible {
        /// The file names tried, e.g. `libcuda.so.1`.
        public let names: [String]
        /// Each place searched, with what was wrong there.
        public let searched: [String]

        public var description: String {
            "\(names.joined(separator: " or ")) not found; searched: \(searched.joined(separator: "; "))"
        }
    }

    /// A symbol the library lacks.
    public struct MissingSymbol: Error, CustomStringConvertible {
        public let library: String
        public let symbol: String
        public var description: String { "\(library) has no \(symbol) (an older version than bpfree needs?)" }
    }

    /// Opens the first of `names` found in the search places; `global` makes its symbols
    /// visible to libraries opened later (NVRTC's builtins, cuDNN's sub-libraries).
    public static func open(_ names: [String], global: Bool = false,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SharedLibrary {
        var searched: [String] = []
        let mode = RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL)
        for (label, folders) in searchFolders(environment: environment) {
            var found: [String] = []
            for folder in folders {
                for name in names where FileManager.default.fileExists(atPath: folder + "/" + name) {
                    let path = folder + "/" + name
                    if let handle = dlopen(path, mode) { return SharedLibrary(path: path, handle: handle) }
                    found.append("\(path): \(lastError())")
                }
            }
            searched.append(found.isEmpty ? label : "\(label) (\(found.joined(separator: ", ")))")
        }
        var loaderErrors: [String] = []
        for name in names {
            if let handle = dlopen(name, mode) { return SharedLibrary(path: name, handle: handle) }
            loaderErrors.append(lastError())
        }
        searched.append("the loader path (\(loaderErrors.first ?? "not found"))")
        throw NotFound(names: names, searched: searched)
    }

    /// Opens every `prefix…suffix` library in `folder`, so that a library that opens them by name
    /// alone (cuDNN's shim) finds them loaded: in rounds, since one may need another opened first.
    /// Those that will not open are left (the library says so when it needs one).
    static func preload(in folder: String, prefix: String, suffix: String) {
        var left = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
        var before = left.count + 1
        while !left.isEmpty && left.count < before {
            before = left.count
            left.removeAll { dlopen(folder + "/" + $0, RTLD_NOW | RTLD_GLOBAL) != nil }
        }
    }

    /// The places searched, each with the folders it stands for, in order.
    static func searchFolders(environment: [String: String]) -> [(label: String, folders: [String])] {
        let listed = environment["BPFREE_CUDA_LIBS"].map { $0.split(separator: ":").map(String.init) } ?? []
        let cudaHome = environment["CUDA_HOME"].map { [$0 + "/lib64", $0 + "/lib"] } ?? []
        let wheels = pythonWheelFolders(environment: environment)
        return [(environment["BPFREE_CUDA_LIBS"].map { "BPFREE_CUDA_LIBS=\($0)" } ?? "BPFREE_CUDA_LIBS (unset)", listed),
                (environment["CUDA_HOME"].map { "CUDA_HOME=\($0)" } ?? "CUDA_HOME (unset)", cudaHome),
                (wheels.python.map { "the NVIDIA wheels of \($0)" } ?? "the NVIDIA wheels (no python3 on PATH)", wheels.folders)]
    }

    /// `nvidia/cu13/lib` and `nvidia/*/lib` under the site-packages of the `python3` on PATH.
    static func pythonWheelFolders(environment: [String: String]) -> (python: String?, folders: [String]) {
        let fileManager = FileManager.default
        let path = environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        guard let python = path.map({ $0 + "/python3" }).first(where: { fileManager.isExecutableFile(atPath: $0) }) else { return (nil, []) }
        // A venv's or a prefix's bin/python3 has its packages under ../lib/python3.X/{site,dist}-packages.
        let prefix = URL(fileURLWithPath: python).deletingLastPathComponent().deletingLastPathComponent().path
        var roots: [String] = []
        for lib in [prefix + "/lib", prefix + "/local/lib", "/usr/local/lib", "/usr/lib"] {
            for entry in ((try? fileManager.contentsOfDirectory(atPath: lib)) ?? []).sorted().reversed() where entry.hasPrefix("python3") {
                roots += ["site-packages", "dist-packages"].map { "\(lib)/\(entry)/\($0)" }
            }
        }
        var folders: [String] = []
        for root in roots where fileManager.fileExists(atPath: root + "/nvidia") {
            folders.append(root + "/nvidia/cu13/lib")
            for package in ((try? fileManager.contentsOfDirectory(atPath: root + "/nvidia")) ?? []).sorted() where package != "cu13" {
                folders.append("\(root)/nvidia/\(package)/lib")
            }
        }
        return (python, folders.filter { fileManager.fileExists(atPath: $0) })
    }

    /// The C function `name` as the Swift function type `T` (a `@convention(c)` type).
    public func function<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let symbol = dlsym(handle, name) else { throw MissingSymbol(library: path, symbol: name) }
        return unsafeBitCast(symbol, to: type)
    }

    /// The folder the library was found in (nil when the loader found it by name).
    public var folder: String? {
        path.contains("/") ? URL(fileURLWithPath: path).deletingLastPathComponent().path : nil
    }

    private static func lastError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}
