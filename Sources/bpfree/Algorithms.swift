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

    static var listing: String {
        var lines: [String] = []
        for type in AlgorithmRegistry.all {
            lines.append("\(type.id)  (default architecture \(type.defaultArchitecture), on CIFAR \(type.defaultCIFARArchitecture))")
            for spec in type.hyperparameterSpecs {
                let key = "\(type.id).\(spec.name)=\(spec.defaultValue)"
                let searched = spec.searchRange.map { "; tuned log-uniformly in \($0.lowerBound)...\($0.upperBound)" } ?? ""
                lines.append("  " + key.padding(toLength: 34, withPad: " ", startingAt: 0) + "\(spec.help) [\(spec.accepted)\(searched)]")
            }
        }
        return lines.joined(separator: "\n")
    }
}
