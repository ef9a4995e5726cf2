import Foundation
import Records
import TensorCore

extension EnvironmentInfo {
    /// This build's release.
    public static let version = "0.1.0"

    /// The current machine.
    public static func current() -> EnvironmentInfo {
        EnvironmentInfo(cpuModel: cpuModelName(), cores: ProcessInfo.processInfo.activeProcessorCount,
                        blas: BLAS.configuration, blasCore: BLAS.coreName, blasCoreChoice: BLASCore(.inEffect()), convolution: ConvolutionKernel.library,
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

extension EnvironmentInfo.BLASCore {
    /// The record of a kernel choice.
    init(_ choice: BLASCoreChoice) {
        self.init(core: choice.core, chosenBy: choice.chosenBy.rawValue, libraryCore: choice.libraryCore, reason: choice.reason)
    }
}
