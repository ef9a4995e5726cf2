#!/usr/bin/env bash
# Starts a one-node SLURM cluster (Debian's slurm-wlm and munge, as root, without systemd, no
# cgroups) for the SLURM launcher's tests, installing the packages if missing. Harmless to run
# again; prints "ok" when `sinfo` shows the node idle. Used by .ci/run.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "start_slurm.sh: must run as root" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
fi
mkdir -p /run/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown munge:munge /run/munge
[ -f /etc/munge/munge.key ] || mungekey --create >&2
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
cpus=$(nproc)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=test
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES OverSubscribe=FORCE:4 State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd -N localhost
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then echo ok; exit 0; fi
  sleep 0.3
done
echo "start_slurm.sh: the node did not come up: $(sinfo 2>&1)" >&2
exit 1
