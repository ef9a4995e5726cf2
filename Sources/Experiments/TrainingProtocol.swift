import Algorithms
import Training

/// Which stopping rules a run uses (protocol §3): the harmonized rule for every unit, or the
/// original study's per-configuration rules, only for reproducing its numbers.
public enum TrainingProtocol: String, Sendable, Codable, CaseIterable {
    case harmonized
    case seedPaper = "seed-paper"

    /// The common rule and the per-stage rules (by stage-name prefix) of a run. The harmonized
    /// protocol uses `base` everywhere; seed-paper replaces monitor, patience and min_delta by
    /// the study's table and caps at the smaller of its cap and `base.maxEpochs`.
    public func stopping(algorithm: String, dataset: String, architecture: Architecture,
                         base: StoppingRule) -> (common: StoppingRule, stages: [String: StoppingRule]) {
        guard self == .seedPaper else { return (base, [:]) }
        let cap = min(base.maxEpochs, 100)
        let data = dataset.hasPrefix("fashion") ? "fmnist" : dataset
        func rule(_ patience: Int, _ minDelta: Double, _ monitor: StoppingRule.Monitor = .validationLoss) -> StoppingRule {
            StoppingRule(patience: patience, minDelta: minDelta, maxEpochs: cap, monitor: monitor)
        }
        switch algorithm {
        case "ff":
            return (rule(20, 0.01, .validationAccuracy), [:])
        case "mf":
            let patience = ["mnist": 5, "fmnist": 10, "cifar10": 4, "cifar100": 4][data] ?? base.patience
            return (rule(patience, 1e-4), [:])
        case let id where id.hasPrefix("cafo"):
            let dfa = id.contains("dfa")
            let predictor: [String: (Int, Double)] = dfa
                ? ["mnist": (5, 5e-4), "fmnist": (6, 1e-3), "cifar10": (8, 1e-3), "cifar100": (10, 1e-3)]
                : ["mnist": (8, 5e-4), "fmnist": (8, 1e-3), "cifar10": (8, 1e-3), "cifar100": (10, 1e-3)]
            let (patience, minDelta) = predictor[data] ?? (base.patience, base.minDelta)
            var stages = ["predictor": rule(patience, minDelta)]
            if dfa {
                let epochs = ["mnist": 5, "fmnist": 15, "cifar10": 250, "cifar100": 200][data] ?? base.maxEpochs
                stages["blocks"] = StoppingRule(patience: epochs, minDelta: 0, maxEpochs: min(epochs, base.maxEpochs), monitor: .none)
            }
            return (rule(patience, minDelta), stages)
        case "bp":
            let patience: Int? = switch (data, architecture.description) {
            case ("mnist", "mlp-2x1000"): 10
            case ("mnist", "mlp-3x1000"): 30
            case ("mnist", "mlp-4x2000"): 40
            case ("fmnist", "mlp-2x1000"), ("fmnist", "mlp-4x2000"): 10
            case ("cifar10", "mlp-3x2000"): 20
            case ("cifar100", "mlp-3x2000"): 5
            case ("mnist", "cnn-3block"), ("fmnist", "cnn-3block"): 10
            case ("cifar10", "cnn-3block"): 40
            case ("cifar100", "cnn-3block"): 20
            default: nil
            }
            return (rule(patience ?? base.patience, 0), [:])
        default:
            return (base, [:])
        }
    }
}
