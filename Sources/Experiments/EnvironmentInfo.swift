import Foundation
import TensorCore

/// The machine and software a run used, as recorded with every run.
public struct EnvironmentInfo: Sendable, Codable, Equatable {
    public var cpuModel: String
    public var cores: Int
    public var blas: String
    public var blasCore: String
    /// Who chose `blasCore` and why (absent in records of earlier builds).
    public var blasCoreChoice: BLASCoreChoice?
    /// The library that runs convolutions and its instruction set (absent in earlier records).
    public var convolution: String?
    public var swiftVersion: String
    public var operatingSystem: String
    /// The bpfree release that ran (absent in records of earlier builds).
    public var bpfreeVersion: String?

    /// This build's release.
    public static let version = "0.1.0"

    enum CodingKeys: String, CodingKey {
        case cpuModel = "cpu_model", cores, blas, blasCore = "blas_core", blasCoreChoice = "blas_core_choice", convolution
        case swiftVersion = "swift_version", operatingSystem = "operating_system", bpfreeVersion = "bpfree_version"
    }

    /// The current machine.
    public static func current() -> EnvironmentInfo {
        EnvironmentInfo(cpuModel: cpuModelName(), cores: ProcessInfo.processInfo.activeProcessorCount,
                        blas: BLAS.configuration, blasCore: BLAS.coreName, blasCoreChoice: .inEffect(), convolution: ConvolutionKernel.library,
                        swiftVersion: compilerVersion, operatingSystem: operatingSystemName(), bpfreeVersion: version)
    }

    static func cpuModelName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }

    static func operatingSystemName() -> String {
        if let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
                return line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return ProcessInfo.processInfo.operatingSystemVersionString
    }

    /// The Swift compiler that built this binary (to the minor version).
    static let compilerVersion: String = {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}
