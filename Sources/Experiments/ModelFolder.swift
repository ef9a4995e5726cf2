import Foundation
import Records
import Tuning

/// Where a bench's final runs and a study's best trials keep their models: one folder per
/// study, `FOLDER/STUDY/final-seedN.safetensors` and `FOLDER/STUDY/trial-N.safetensors`.
public struct ModelFolder: Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    /// The folder beside a SQLite store: `runs.sqlite` → `runs.models`.
    public static func beside(store: String) -> ModelFolder {
        let url = URL(fileURLWithPath: store)
        return ModelFolder(path: url.deletingPathExtension().path + ".models")
    }

    /// A study's folder, made if needed: its name with `/`, control characters and a leading dot
    /// replaced; a name over 200 bytes is cut to 180 and given a hash of the whole name, so that
    /// two studies never share a folder.
    func folder(study: String) throws -> String {
        var scalars = String.UnicodeScalarView(study.unicodeScalars.map { $0 == "/" || $0.properties.generalCategory == .control ? "_" : $0 })
        if scalars.first == "." { scalars.replaceSubrange(scalars.startIndex...scalars.startIndex, with: ["_"]) }
        var name = String(scalars)
        if name.utf8.count > 200 {
            var (cut, bytes) = (String.UnicodeScalarView(), 0)
            for scalar in scalars {
                bytes += String(scalar).utf8.count
                if bytes > 180 { break }
                cut.append(scalar)
            }
            let hash = study.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }   // FNV-1a
            name = String(cut) + "-" + String(hash, radix: 16)
        }
        let folder = path + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Where a study's trial keeps its model.
    public func file(study: String, trial: Int) throws -> String { try folder(study: study) + "/trial-\(trial).safetensors" }

    /// Saves a final run's model.
    public func saveFinal(_ model: SavedModel, study: String, seed: UInt64) throws -> String {
        let file = try folder(study: study) + "/final-seed\(seed).safetensors"
        try model.write(to: file)
        return file
    }

    /// Saves a finished trial's model if the trial is among `best` (the best trial, or a
    /// multi-objective study's Pareto front) and removes the files of trials no longer in it.
    /// Workers finishing trials at once may each write: every later call removes what is stale.
    public func keepBest(_ model: SavedModel?, trial: Int, study: String, best: Set<Int>) throws {
        let folder = try folder(study: study)
        if let model, best.contains(trial) {
            var model = model
            model.file.metadata["study"] = study
            model.file.metadata["trial"] = "\(trial)"
            try model.write(to: file(study: study, trial: trial))
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            guard name.hasPrefix("trial-"), name.hasSuffix(".safetensors"),
                  let number = Int(name.dropFirst("trial-".count).dropLast(".safetensors".count)), !best.contains(number) else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}
