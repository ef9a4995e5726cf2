/// Which rules a run uses (protocol §3): the harmonized rules for every unit, or the original
/// study's per-configuration rules, only for reproducing its numbers. (The rules themselves:
/// `TrainingProtocol.rules` in Experiments.)
public enum TrainingProtocol: String, Sendable, Codable, CaseIterable {
    case harmonized
    case seedPaper = "seed-paper"
}
