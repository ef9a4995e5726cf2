import CUDA
import TensorCore

/// Whether a device can run training here, checked before any data is loaded.
public enum ComputeDevice {
    /// A device that cannot run training here, in one line.
    public struct Unavailable: Error, CustomStringConvertible {
        public let device: Device
        public let reason: String
        public var description: String { "--device \(device): \(reason)" }
    }

    /// Returns when `device` can train; otherwise says why in one line (no libcuda.so.1 and
    /// where it was looked for, no such GPU, or what is still missing).
    public static func check(_ device: Device) throws {
        guard case .cuda(let index) = device else { return }
        let gpus: [GPUDevice]
        do { gpus = try CUDADriver().devices() } catch { throw Unavailable(device: device, reason: "\(error)") }
        guard index < gpus.count else {
            throw Unavailable(device: device, reason: "this machine has \(gpus.count) GPU\(gpus.count == 1 ? "" : "s")")
        }
        // NOTE: the CUDA backend of the TensorCore primitives does not exist yet: the driver,
        // NVRTC and every kernel's CUDA C are in place (`bpfree info --compile-kernels`).
        throw Unavailable(device: device, reason: "\(gpus[index].name) found, but bpfree cannot train on a GPU yet: "
                          + "its kernels compile (bpfree info --compile-kernels); running the primitives on the card comes next")
    }

    /// One line per GPU for `bpfree info`, or one line saying why there is none.
    public static func gpuLines() -> [String] {
        do {
            let gpus = try CUDADriver().devices()
            return gpus.isEmpty ? ["GPUs:     none (the driver sees no device)"] : gpus.map { "GPU:      \($0.summary)" }
        } catch {
            return ["GPUs:     none (\(error))"]
        }
    }
}
