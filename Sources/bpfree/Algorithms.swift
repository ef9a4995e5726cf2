import Algorithms
import ArgumentParser

/// `bpfree algorithms`: every learning rule with its hyperparameters, defaults and `--set` keys.
struct AlgorithmsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algorithms",
        abstract: "List the learning algorithms, their default architectures and their options (--set keys).")

    func run() {
        print(AlgorithmsCommand.listing)
    }

    /// Each default architecture with the algorithms that use it, e.g. "mlp-2x1000 for bp, mf, …; on CIFAR …".
    static var defaultArchitectures: String {
        func grouped(_ architecture: (any RegisteredAlgorithm.Type) -> Architecture) -> String {
            var order: [String] = [], ids: [String: [String]] = [:]
            for type in AlgorithmRegistry.all {
                let name = architecture(type).description
                if ids[name] == nil { order.append(name) }
                ids[name, default: []].append(type.id)
            }
            return order.map { "\($0) for \(ids[$0]!.joined(separator: ", "))" }.joined(separator: "; ")
        }
        return grouped { $0.defaultArchitecture } + "; on CIFAR " + grouped { $0.defaultCIFARArchitecture }
    }

    static var listing: String {
        var lines: [String] = []
        for type in AlgorithmRegistry.all {
            let part = type.role == .rule ? "" : ", the \(type.role.rawValue)"
            let control = type.control.map { ", compared with the \($0) control" } ?? ""
            lines.append("\(type.id)  (default architecture \(type.defaultArchitecture), on CIFAR \(type.defaultCIFARArchitecture)\(part)\(control))")
            for spec in type.hyperparameterSpecs {
                let key = "\(type.id).\(spec.name)=\(spec.defaultValue)"
                let searched = spec.searchRange.map { "; tuned log-uniformly in \($0.lowerBound)...\($0.upperBound)" } ?? ""
                lines.append("  " + key.padding(toLength: 34, withPad: " ", startingAt: 0) + "\(spec.help) [\(spec.accepted)\(searched)]")
            }
        }
        return lines.joined(separator: "\n")
    }
}
