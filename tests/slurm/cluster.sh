#!/usr/bin/env bash
# A real single-node SLURM cluster with accounting (sacct), from Debian's packages, for tests.
#
#   cluster.sh install      apt-get the packages (root; keeps services from auto-starting)
#   cluster.sh up DIR       start munge, MariaDB, slurmdbd, slurmctld, slurmd; state in DIR
#   cluster.sh down DIR     stop every daemon that `up` started, by the PID files in DIR
#
# After `up`, export SLURM_CONF=DIR/slurm.conf for sbatch, squeue, sacct and Snakemake.
# `up` also links /etc/slurm/slurm.conf to it (and `down` removes that link): Snakemake's job-step
# plugin drops SLURM_CONF before its nested srun, which then reads the default path, as on a
# real cluster. `up` refuses to run where a slurm.conf of someone else's is already there, and
# clears a link of its own whose daemons no longer run (left by a reboot or a killed test).
# Everything listens on loopback only. See ../../README.md, "Running on a cluster".
set -euo pipefail

PACKAGES="slurmctld slurmd slurm-client slurmdbd munge mariadb-server"
DB_PORT=${REGIONPRUNE_SLURM_DB_PORT:-33061}

log() { echo "cluster.sh: $*" >&2; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local timeout=$1 what=$2
  shift 2
  for _ in $(seq "$((timeout * 5))"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "timed out after ${timeout}s waiting for $what"
  return 1
}

install() {
  if [ "$(id -u)" != 0 ]; then log "install needs root"; exit 1; fi
  # No systemd here: stop package scripts from starting services on their own while installing.
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}

up() {
  local dir=$1 host cpus mem
  host=$(hostname)
  cpus=$(nproc)
  mem=$(($(free -m | awk '/^Mem:/{print $7}') * 90 / 100))
  if [ -L /etc/slurm/slurm.conf ] && ! alive "$(dirname "$(readlink /etc/slurm/slurm.conf)")"; then
    # A test cluster that a reboot or a kill left behind: nothing of it runs, so clear it.
    log "clearing a stale test cluster: $(readlink /etc/slurm/slurm.conf) (none of its daemons runs)"
    down "$(dirname "$(readlink /etc/slurm/slurm.conf)")"
    rm -f /etc/slurm/slurm.conf
  fi
  if [ -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
    log "/etc/slurm/slurm.conf exists already (a real cluster, or a test left running:"
    log "$(readlink -f /etc/slurm/slurm.conf)); stop that first with: $0 down <its DIR>"
    exit 1
  fi
  mkdir -p "$dir"/{state,spool,log,run,db,mysql}
  chmod 755 "$dir"
  chown mysql:mysql "$dir/mysql" "$dir/db"

  # munge: the system key, run as user munge
  mkdir -p /run/munge && chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$dir/run/munged.pid"

  # MariaDB on 127.0.0.1 only, its files in folders user mysql owns
  mariadb-install-db --user=mysql --datadir="$dir/db" --auth-root-authentication-method=normal \
    >"$dir/log/mariadb-install.log" 2>&1
  (mariadbd --user=mysql --datadir="$dir/db" --bind-address=127.0.0.1 --port="$DB_PORT" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/mysql/mysqld.pid" \
    --log-error="$dir/mysql/error.log" >/dev/null 2>&1 &)
  wait_for 30 "MariaDB" mariadb --socket="$dir/mysql/mysqld.sock" -e "select 1"
  mariadb --socket="$dir/mysql/mysqld.sock" <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

  cat >"$dir/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=$host
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
EOF
  chmod 600 "$dir/slurmdbd.conf"

  cat >"$dir/slurm.conf" <<EOF
ClusterName=regionprune
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
ReturnToService=2
MinJobAge=300
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  mkdir -p /etc/slurm
  ln -s "$dir/slurm.conf" /etc/slurm/slurm.conf

  slurmdbd
  wait_for 30 "slurmdbd" bash -c "exec 3<>/dev/tcp/127.0.0.1/6819"
  slurmctld
  slurmd
  wait_for 60 "an idle node" bash -c '[ "$(sinfo -h -o %T)" = idle ]'
  log "up: SLURM_CONF=$dir/slurm.conf"
}

PIDFILES="run/slurmd.pid run/slurmctld.pid run/slurmdbd.pid mysql/mysqld.pid run/munged.pid"

alive() {  # alive DIR: does any daemon that `up DIR` started still run?
  local f
  for f in $PIDFILES; do
    if [ -s "$1/$f" ] && kill -0 "$(cat "$1/$f")" 2>/dev/null; then return 0; fi
  done
  return 1
}

down() {
  local dir=$1 pid pids=()
  for f in $PIDFILES; do
    if [ -s "$dir/$f" ]; then
      pid=$(cat "$dir/$f")
      kill "$pid" 2>/dev/null && pids+=("$pid") || true
    fi
  done
  for pid in "${pids[@]}"; do
    wait_for 30 "PID $pid to exit" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/slurm.conf" ]; then
    rm /etc/slurm/slurm.conf
  fi
  log "down: stopped ${#pids[@]} daemon(s)"
}

case "${1:-}" in
install) install ;;
up) up "$(realpath -m "$2")" ;;
down) down "$(realpath -m "$2")" ;;
*)
  echo "usage: $0 install | up DIR | down DIR" >&2
  exit 2
  ;;
esac
