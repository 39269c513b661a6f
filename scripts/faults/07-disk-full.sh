#!/usr/bin/env bash
# Row 7a: a miner's disk fills up mid-job. miner1's store (its checkpoints
# and final models: <home>/store) is put on a small tmpfs (FAULT_DISK_KB,
# default 3072 KiB: some thirty checkpoints of the task's MLP, a fraction of
# one job's), or on a loop-mounted file system where tmpfs cannot be
# mounted; the row is skipped, saying why, where neither mounts. Once the
# miner has hit "no space left on device", the file system is grown
# (remount; what an operator freeing space does) and the row checks, by the
# rules: the job the miner was training is either finished by it (resumed
# from its last commitment) or lapses at its training deadline
# (claim_lapse_slash_bps of the bond burned) and is finished by another
# miner; the task completes and every coin is accounted for.
ROW=07-disk-full
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KB="${FAULT_DISK_KB:-3072}"
TB="${FAULT_TRAINING_BLOCKS:-60}"
FAULT="miner1's store on a full disk (${KB} KiB tmpfs) mid-job; space freed after the failure"

# mount_small DIR: a KB KiB file system on DIR (tmpfs, else a loop file);
# sets FS_KIND. False when neither mounts.
mount_small() {
	mkdir -p "$1"
	if mount -t tmpfs -o "size=${KB}k" tmpfs "$1" 2>/dev/null; then
		FS_KIND=tmpfs
		MOUNTS+=("$1")
		return 0
	fi
	local img="$FAULT_HOME/disk.img"
	if command -v mkfs.ext4 >/dev/null && truncate -s "${KB}k" "$img" && mkfs.ext4 -q -F "$img" >/dev/null 2>&1 &&
		mount -o loop "$img" "$1" 2>/dev/null; then
		FS_KIND=loop
		MOUNTS+=("$1")
		return 0
	fi
	return 1
}
grow() { # grow DIR: make room again
	if [[ "$FS_KIND" == tmpfs ]]; then
		mount -o remount,size=512m "$1"
	else
		umount "$1" && truncate -s 512m "$FAULT_HOME/disk.img" && resize2fs -f "$FAULT_HOME/disk.img" >/dev/null 2>&1 && mount -o loop "$FAULT_HOME/disk.img" "$1"
	fi
}

probe="$FAULTS_TMP/mount-probe"
if [[ $EUID -ne 0 ]] || ! { mkdir -p "$probe" && mount_small "$probe"; }; then
	skip_row 7a "$FAULT" "neither a tmpfs nor a loop file system can be mounted here (needs root and CAP_SYS_ADMIN)"
	exit 0
fi
umount "$probe" && MOUNTS=() && rmdir "$probe"

result_begin 7a "$FAULT"
fault_setup
store="$(worker_dir miner1)/store"
terminate "$(worker_pid miner1)"
rm -rf "$store"
mount_small "$store" || fail "mounting the small file system failed"
restart_worker miner1
mark_log miner1
sleep 3
[[ -n "$(worker_pid miner1)" ]] || fail "miner1 did not start on the small store: $(log_since miner1 | tail -n 3)"
happened "miner1 restarted with its store on a ${KB} KiB $FS_KIND"
bond1="$(bond_of miner1)"
SLASH_BPS="$(api /pouwml/v1/params | jq -r .params.claim_lapse_slash_bps)"
DEMO_EPOCHS=20 DEMO_FOLDS=2 DEMO_DEADLINES="{\"claim_blocks\":\"600\",\"training_blocks\":\"$TB\",\"evaluation_blocks\":\"100\"}" submit_task

full() { log_since miner1 | grep -q "no space left on device"; }
wait_until 240 "miner1 to run out of space" full
t_full="$(now)"
J="$(log_since miner1 | grep -m1 "no space left" | grep -o 'job=[0-9]*' | head -n1 | cut -d= -f2)"
line="$(log_since miner1 | grep -m1 "no space left" | sed 's/^time=[^ ]* //' | cut -c1-240)"
happened "miner1 ran out of space on job ${J:-?} at height $(h0): $line"
sleep 5
alive="$( [[ -n "$(worker_pid miner1)" ]] && echo "still running" || echo "exited")"
happened "5 s later miner1 is $alive, with $(log_since miner1 | grep -c 'msg="job failed"') failed job(s) and $(log_since miner1 | grep -c 'msg=claimed') claim(s) since the task started; job ${J:-?} is $(api "/pouwml/v1/tasks/$TASK/jobs/${J:-0}" | jq -r .job.status) (deadline height $(api "/pouwml/v1/tasks/$TASK/jobs/${J:-0}" | jq -r .job.deadline)); $(df -k "$store" | awk 'NR == 2 { print $4 }') KiB free"
[[ -n "$(worker_pid miner1)" ]] || restart_worker miner1
grow "$store"
t_free="$(now)"
happened "space freed (the file system grown to 512 MiB)"

done_job() { [[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J" | jq -r .job.status)" =~ SETTLED|FAILED|EXPIRED ]]; }
wait_until $((TB * 4 + 300)) "job $J to settle" done_job
t_done="$(now)"
job="$(api "/pouwml/v1/tasks/$TASK/jobs/$J")"
by="$(jq -r .job.miner <<<"$job")"
bond1b="$(bond_of miner1)"
if [[ "$by" == "$(address miner1)" ]]; then
	((bond1b == bond1)) || fail "miner1 finished job $J itself but its bond went $bond1 -> $bond1b"
	happened "miner1 finished job $J itself after the space was freed (attempts $(jq -r .job.attempts <<<"$job")), settled $(since "$t_full" "$t_done") s after the disk filled; bond untouched"
	rset recovery "job $J finished by miner1 $(since "$t_free" "$t_done") s after space was freed"
else
	want=$((bond1 - bond1 * SLASH_BPS / 10000))
	((bond1b <= want)) || fail "job $J lapsed from miner1 but its bond is $bond1b (rules: $want)"
	happened "job $J's claim lapsed at its training deadline (miner1 did not resume it after the space was freed): miner1's bond $bond1 -> $bond1b (-${SLASH_BPS} bps, burned), job finished by $(sed "s/$(address miner2)/miner2/" <<<"$by"), settled $(since "$t_full" "$t_done") s after the disk filled"
	rset recovery "job $J reassigned at its training deadline, settled $(since "$t_full" "$t_done") s after the disk filled"
fi
wait_task_closed 600
common_end
result_end PASS
