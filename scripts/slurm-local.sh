#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying the cluster path and for CI:
#
#   scripts/slurm-local.sh start [DIR]   # installs slurm-wlm + munge (Debian) if sbatch is
#                                        # absent, writes DIR/slurm.conf, starts munged,
#                                        # slurmctld and slurmd; prints `export SLURM_CONF=...`
#   scripts/slurm-local.sh stop [DIR]    # stops the daemons it started
#
# DIR defaults to /tmp/dupstudy-slurm. Needs root (the daemons run as root). One node with
# this machine's CPUs and memory, one partition, no accounting database: finished jobs are
# kept by the controller for an hour (`scontrol show job`) and logged by the job-completion
# plugin (`sacct --completion`).
set -euo pipefail

cmd="${1:?usage: scripts/slurm-local.sh start|stop [DIR]}"
dir="${2:-/tmp/dupstudy-slurm}"
conf="$dir/slurm.conf"

# Stops a daemon by its pid file and waits (up to 30 s) until it has exited, so that
# nothing is still writing state files when the caller removes the folder.
stop_one() {
  local file="$dir/$1.pid" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm-local: $1 (pid $pid) still running 30 s after SIGTERM; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

stop() {
  stop_one slurmd
  stop_one slurmctld
  stop_one munged
}

wait_for() { # seconds, description, command...
  local seconds="$1" what="$2"
  shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "slurm-local: $what did not come up within ${seconds}s; logs in $dir" >&2
  return 1
}

case "$cmd" in
  stop)
    stop
    echo "slurm-local: stopped the daemons of $dir"
    ;;
  start)
    if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
      echo "slurm-local: installing slurm-wlm and munge from Debian's packages"
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y slurm-wlm munge >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y slurm-wlm munge >/dev/null; }
    fi
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    stop
    # munge: a key of our own, its socket in DIR.
    if [ ! -s "$dir/munge/munge.key" ]; then
      dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 700 "$dir/munge"
    chmod 400 "$dir/munge/munge.key"
    /usr/sbin/munged --force --key-file="$dir/munge/munge.key" \
      --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" \
      --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"
    host="$(hostname -s)"
    cpus="$(nproc)"
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$conf" <<EOF
ClusterName=dupstudy-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
MinJobAge=3600
MaxArraySize=10000
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    export SLURM_CONF="$conf"
    /usr/sbin/slurmctld -f "$conf"
    /usr/sbin/slurmd -f "$conf"
    wait_for 30 "slurmctld" scontrol ping
    wait_for 30 "the node" sh -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
    echo "slurm-local: one-node cluster up ($host, $cpus CPUs)"
    echo "export SLURM_CONF=$conf"
    ;;
  *)
    echo "usage: scripts/slurm-local.sh start|stop [DIR]" >&2
    exit 2
    ;;
esac
