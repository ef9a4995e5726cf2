import Foundation
import Records

/// Notices whether anything else competed for the CPU while something was timed: the other
/// processes' CPU time (the machine's busy time less this process's) and the time the
/// hypervisor stole, over the timed span.
public enum ContentionProbe {
    /// Other processes may use a tenth of one CPU, the hypervisor 5 % of the time, before a
    /// timing counts as taken under load.
    public static let otherCPUShare = 0.1, stealShare = 0.05

    /// Runs `body` and says how contended the machine was meanwhile (nil where Linux's
    /// /proc/stat is missing).
    public static func measure(_ body: () -> Void) -> Contention? {
        let clock = ContinuousClock(), start = clock.now
        let (machine, own) = (ProcessStats.machineCPUSeconds, ProcessStats.cpuSeconds)
        body()
        let seconds = (clock.now - start).seconds
        guard let before = machine, let after = ProcessStats.machineCPUSeconds else { return nil }
        return contention(seconds: seconds, otherCPUSeconds: max(0, (after.busy - before.busy) - (ProcessStats.cpuSeconds - own)),
                          stealSeconds: max(0, after.steal - before.steal))
    }

    /// The contention of a span from its measured parts, with the verdict of the shares above.
    public static func contention(seconds: Double, otherCPUSeconds: Double, stealSeconds: Double) -> Contention {
        Contention(seconds: seconds, otherCPUSeconds: otherCPUSeconds, stealSeconds: stealSeconds,
                   contended: otherCPUSeconds > otherCPUShare * seconds || stealSeconds > stealShare * seconds)
    }
}
