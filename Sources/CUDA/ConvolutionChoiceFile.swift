import Foundation
import TensorCore

/// The convolution choices measured on one kind of card (its name, compute capability, driver,
/// cuDNN's version and the math), kept in a file so that every later process there takes the
/// same route and algorithm for a pass of a shape: a measured run of a seed then gives the same
/// bits as the run before it. The first process to measure a pass of a shape writes it; one that
/// measured it meanwhile takes what is there (under a lock). The file is a cache: one that cannot
/// be read counts as empty, and one that cannot be written keeps the choices in the process only.
///
/// In `~/.cache/bpfree/convolutions` (or `$BPFREE_CONVOLUTION_CACHE`; `off` keeps none).
final class ConvolutionChoiceFile: @unchecked Sendable {
    let path: String

    /// One choice as the file holds it.
    struct Entry: Codable, Equatable {
        /// N, H, W, C, O, k, stride, padding.
        var shape: [Int]
        var pass: String
        var usesLibrary: Bool
        var algorithm: Int32?, algorithmName: String?, workspaceBytes: Int?
        var im2colMilliseconds: Double?, cudnnMilliseconds: Double?

        enum CodingKeys: String, CodingKey {
            case shape, pass, usesLibrary = "uses_cudnn", algorithm, algorithmName = "algorithm_name", workspaceBytes = "workspace_bytes"
            case im2colMilliseconds = "im2col_ms", cudnnMilliseconds = "cudnn_ms"
        }

        init(_ choice: ConvolutionChoice) {
            let s = choice.shape
            shape = [s.batch, s.height, s.width, s.inputChannels, s.outputChannels, s.kernelSize, s.stride, s.padding]
            (pass, usesLibrary) = (choice.pass.rawValue, choice.usesLibrary)
            (algorithm, algorithmName, workspaceBytes) = (choice.algorithm?.code, choice.algorithm?.name, choice.algorithm?.workspaceBytes)
            (im2colMilliseconds, cudnnMilliseconds) = (choice.loweredMilliseconds, choice.libraryMilliseconds)
        }

        /// The choice, or nil for an entry this build cannot read.
        var choice: ConvolutionChoice? {
            guard shape.count == 8, let pass = ConvolutionPass(rawValue: pass) else { return nil }
            let algorithm = self.algorithm.map { ConvolutionAlgorithm(code: $0, name: algorithmName ?? "\($0)", workspaceBytes: workspaceBytes ?? 0) }
            guard !usesLibrary || algorithm != nil else { return nil }
            let shape = ConvolutionShape(batch: shape[0], height: shape[1], width: shape[2], inputChannels: shape[3], outputChannels: shape[4],
                                         kernelSize: shape[5], stride: shape[6], padding: shape[7])
            return ConvolutionChoice(shape: shape, pass: pass, algorithm: algorithm, usesLibrary: usesLibrary,
                                     loweredMilliseconds: im2colMilliseconds, libraryMilliseconds: cudnnMilliseconds)
        }
    }

    /// The file of `card` (e.g. "NVIDIA H100 80GB HBM3 sm_90 driver CUDA 13.0") with `library`
    /// and `math`, or nil when `BPFREE_CONVOLUTION_CACHE=off`.
    init?(card: String, library: String, math: String, environment: [String: String]) {
        let folder = environment["BPFREE_CONVOLUTION_CACHE"] ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/bpfree/convolutions"
        guard folder != "off" else { return nil }
        let name = "\(card) \(library) \(math)".map { $0.isLetter || $0.isNumber || $0 == "." ? String($0) : "-" }.joined()
        path = folder + "/" + name + ".json"
    }

    /// The choice kept for `pass` over `shape`, if any.
    func choice(for pass: ConvolutionPass, _ shape: ConvolutionShape) -> ConvolutionChoice? {
        locked(LOCK_SH) { read().lazy.compactMap(\.choice).first { $0.pass == pass && $0.shape == shape } }
    }

    /// Keeps `choice` unless the file holds one for its pass and shape already; returns the
    /// one kept, and whether it was there before.
    func keep(_ choice: ConvolutionChoice) -> (choice: ConvolutionChoice, earlier: Bool) {
        locked(LOCK_EX) {
            var entries = read()
            if let earlier = entries.lazy.compactMap(\.choice).first(where: { $0.pass == choice.pass && $0.shape == choice.shape }) {
                return (earlier, true)
            }
            entries.append(Entry(choice))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(entries) { try? data.write(to: URL(fileURLWithPath: path), options: .atomic) }
            return (choice, false)
        }
    }

    private func read() -> [Entry] {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode([Entry].self, from: $0) } ?? []
    }

    /// `body` under a lock of the file's (`flock` on `path.lock`): shared to read, exclusive to write.
    private func locked<R>(_ operation: Int32, _ body: () -> R) -> R {
        try? FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let descriptor = open(path + ".lock", O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { return body() }
        defer { close(descriptor) }
        flock(descriptor, operation)
        defer { flock(descriptor, LOCK_UN) }
        return body()
    }
}
