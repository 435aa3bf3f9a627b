//! Kernel scenarios only the simulators have: host threads beside the tasks, the host's CPUs
//! (POSIX only), interrupts raised from host threads. The Windows simulator runs all but
//! `host_cpus`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[cfg(unix)]
use freertos_https::board::posix::host_thread;
#[cfg(windows)]
use freertos_https::board::windows::host_thread;
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::interrupt::{InterruptLine, InterruptRaiser};
use freertos_https::rtos::task;
use freertos_https::rtos::time::{self, Ticks};
use freertos_https_harness::{Outcome, check};

#[cfg(unix)]
use super::APP_PRIORITY;
use super::portable::{check_alignments, heap_after_idle_cleanup, spawn, wait_for_count};

/// Every alignment up to 64 is honoured on the host heap, which host threads use.
pub(crate) fn host_heap_alignment(_: ()) -> Outcome {
    let host = host_thread::spawn("align-host", || check_alignments("host thread"))
        .map_err(|e| e.to_string())?;
    wait_until_finished(&host)?;
    host.join()
        .map_err(|_| "the host thread panicked".to_string())??;
    Ok("alignments 1..=64 on the host heap".into())
}

pub(crate) fn wait_until_finished<T>(handle: &std::thread::JoinHandle<T>) -> Result<(), String> {
    let start = Instant::now();
    while !handle.is_finished() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err("a host thread did not finish within 30 s".into());
        }
        time::delay(Duration::from_millis(5));
    }
    Ok(())
}

/// Host threads and tasks allocate at once; host threads also free blocks tasks made.
pub(crate) fn host_threads_allocate(_: ()) -> Outcome {
    let run_time = Duration::from_millis(1500);
    let done = Arc::new(AtomicUsize::new(0));
    let handed_over = Arc::new(AtomicUsize::new(0));
    let before = HeapStats::now();
    let mut hosts = Vec::new();
    for id in 0..2u8 {
        // One channel per task/host pair: a std channel's lock is then only ever shared
        // between one task and one host thread, never between two tasks. Bounded, so a
        // host thread the OS leaves waiting cannot make the task exhaust the FreeRTOS heap.
        let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(16);
        let host = host_thread::spawn(&format!("alloc-host{id}"), move || {
            host_allocator(id, receiver, run_time)
        })
        .map_err(|e| e.to_string())?;
        hosts.push(host);
        let (done, handed_over) = (done.clone(), handed_over.clone());
        spawn(&format!("alloc-task{id}"), 2 + id, move || {
            let start = Instant::now();
            let mut round = 0usize;
            while start.elapsed() < run_time {
                let size = 16 + (round * 37) % 4000;
                let block = vec![(round % 251) as u8; size];
                if round % 3 == 0 {
                    // Never block the task on a host thread: if the channel is full, the
                    // block is simply freed here.
                    if sender.try_send(block).is_ok() {
                        handed_over.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    black_box(&block);
                }
                round += 1;
                if round % 50 == 0 {
                    time::delay(Duration::from_millis(1));
                }
            }
            drop(sender);
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    wait_for_count(&done, 2, Duration::from_secs(30))?;
    let mut host_rounds = 0;
    for host in hosts {
        wait_until_finished(&host)?;
        host_rounds += host
            .join()
            .map_err(|_| "a host thread panicked".to_string())??;
    }
    let after = heap_after_idle_cleanup(before.free);
    check(after.free == before.free, || {
        format!(
            "FreeRTOS heap leaked: {} B free before, {} B after",
            before.free, after.free
        )
    })?;
    let handed = handed_over.load(Ordering::SeqCst);
    Ok(format!(
        "{host_rounds} host allocations, {handed} task blocks freed by host threads, no leak"
    ))
}

pub(crate) fn host_allocator(
    id: u8,
    from_task: mpsc::Receiver<Vec<u8>>,
    run_time: Duration,
) -> Result<usize, String> {
    let start = Instant::now();
    let mut rounds = 0usize;
    let mut keep: Vec<Vec<u8>> = Vec::new();
    while start.elapsed() < run_time {
        let fill = (rounds as u8).wrapping_mul(31) ^ id;
        keep.push(vec![fill; 8 + (rounds * 53) % 3000]);
        if keep.len() > 32 {
            let block = keep.remove(0);
            let expected = block[0];
            check(block.iter().all(|&byte| byte == expected), || {
                "a host block was overwritten".into()
            })?;
        }
        while let Ok(block) = from_task.try_recv() {
            let first = block.first().copied().unwrap_or_default();
            check(block.iter().all(|&byte| byte == first), || {
                "a task block was overwritten".into()
            })?;
        }
        rounds += 1;
    }
    // Drain what the task sent after the loop.
    for block in from_task.iter() {
        let first = block.first().copied().unwrap_or_default();
        check(block.iter().all(|&byte| byte == first), || {
            "a task block was overwritten".into()
        })?;
    }
    Ok(rounds)
}

/// Tasks of three priorities and a host thread log flat out; nothing deadlocks, every line
/// comes out whole. The test harness parses the lines and compares with the counts here.
pub(crate) fn logger_stress(_: ()) -> Outcome {
    let run_time = Duration::from_millis(2500);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    for (index, (name, level, pause_every)) in [
        ("log-low", 1u8, 0usize),
        ("log-mid", 2, 3),
        ("log-high", 3, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let (stop, done, counts) = (stop.clone(), done.clone(), counts.clone());
        spawn(name, level, move || {
            let mut sequence = 0usize;
            while !stop.load(Ordering::SeqCst) {
                log::info!(
                    "stress source={name} seq={sequence} payload={:x}",
                    sequence * 2654435761
                );
                sequence += 1;
                if pause_every > 0 && sequence % pause_every == 0 {
                    time::delay(Duration::from_millis(1));
                } else {
                    // The low task never blocks; a short spin keeps its output readable
                    // while it still spends much of its time inside the logger.
                    let spin = Instant::now();
                    while spin.elapsed() < Duration::from_micros(20) {
                        std::hint::spin_loop();
                    }
                }
            }
            counts[index].store(sequence, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    let (host_stop, host_counts) = (stop.clone(), counts.clone());
    let host = host_thread::spawn("log-host", move || {
        let mut sequence = 0usize;
        while !host_stop.load(Ordering::SeqCst) {
            log::info!(
                "stress source=log-host seq={sequence} payload={:x}",
                sequence * 2654435761
            );
            sequence += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        host_counts[3].store(sequence, Ordering::SeqCst);
    })
    .map_err(|e| e.to_string())?;
    time::delay(run_time);
    stop.store(true, Ordering::SeqCst);
    wait_for_count(&done, 3, Duration::from_secs(30))?;
    wait_until_finished(&host)?;
    host.join()
        .map_err(|_| "the host thread panicked".to_string())?;
    let lines: Vec<usize> = counts
        .iter()
        .map(|count| count.load(Ordering::SeqCst))
        .collect();
    check(lines.iter().all(|&count| count > 0), || {
        format!("a source logged nothing: {lines:?}")
    })?;
    Ok(format!(
        "lines log-low={} log-mid={} log-high={} log-host={}",
        lines[0], lines[1], lines[2], lines[3]
    ))
}

/// How many host CPUs the calling thread may run on.
#[cfg(unix)]
pub(crate) fn cpus_of_this_thread() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// Which host CPUs tasks and host threads may use: reported for `tests/rtos.rs` to compare
/// with the CPUs it has itself (tasks share one unless `FREERTOS_SIM_CPU=any`; host threads
/// get the others).
#[cfg(unix)]
pub(crate) fn host_cpus(_: ()) -> Outcome {
    let in_task = cpus_of_this_thread();
    let (sender, receiver) = mpsc::sync_channel(1);
    host_thread::spawn("cpus", move || {
        let _ = sender.send(cpus_of_this_thread());
    })
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let on_host_thread = loop {
        if let Ok(count) = receiver.try_recv() {
            break count;
        }
        check(start.elapsed() < Duration::from_secs(5), || {
            "the host thread did not answer".into()
        })?;
        time::delay(Duration::from_millis(1));
    };
    let other_task = Arc::new(AtomicUsize::new(0));
    let seen = other_task.clone();
    spawn("cpus-task", APP_PRIORITY + 1, move || {
        seen.store(cpus_of_this_thread(), Ordering::SeqCst);
    })?;
    check(other_task.load(Ordering::SeqCst) > 0, || {
        "the higher-priority task did not run at once".into()
    })?;
    Ok(format!(
        "task CPUs {in_task}; other task CPUs {}; host thread CPUs {on_host_thread}",
        other_task.load(Ordering::SeqCst)
    ))
}

/// A host thread raises an interrupt line as fast as it can for 2 s while tasks at three
/// priorities spin, block, take critical sections and allocate. Every raise must reach the
/// attached task (the last one always does), the kernel must never assert, and the wake-up
/// latency is reported.
pub(crate) fn interrupt_stress(_: ()) -> Outcome {
    static RAISED: AtomicU64 = AtomicU64::new(0);
    static RAISED_AT_NANOS: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    let epoch = Instant::now();
    let run_time = Duration::from_secs(2);
    let done = Arc::new(AtomicUsize::new(0));
    let (latencies_tx, latencies_rx) = mpsc::sync_channel::<Vec<u64>>(1);

    let receiver_done = done.clone();
    spawn("irq-receiver", 6, move || {
        // Raises before this attachment stay pending until it is made.
        if InterruptLine::attach_current(0).is_err() {
            return;
        }
        let mut seen = 0u64;
        let mut latencies = Vec::with_capacity(4096);
        while !STOP.load(Ordering::SeqCst) || seen < RAISED.load(Ordering::SeqCst) {
            if task::wait_for_notification(Ticks::from_duration(Duration::from_millis(50))) == 0 {
                continue;
            }
            let raised_at = RAISED_AT_NANOS.load(Ordering::SeqCst);
            let now = epoch.elapsed().as_nanos() as u64;
            seen = RAISED.load(Ordering::SeqCst);
            if latencies.len() < latencies.capacity() {
                latencies.push(now.saturating_sub(raised_at));
            }
        }
        let _ = latencies_tx.try_send(latencies);
        receiver_done.fetch_add(1, Ordering::SeqCst);
    })?;
    let raiser = InterruptRaiser::new(0).map_err(|e| e.to_string())?;

    for (index, level) in [1u8, 2, 3].into_iter().enumerate() {
        let done = done.clone();
        spawn(&format!("irq-load{index}"), level, move || {
            let mut round = 0u64;
            while !STOP.load(Ordering::SeqCst) {
                match round % 4 {
                    0 => freertos_https::rtos::critical::with_critical_section(|| black_box(round)),
                    1 => black_box(vec![round as u8; 64 + (round as usize % 512)]).len() as u64,
                    2 => {
                        time::delay(Duration::from_micros(500));
                        0
                    }
                    _ => (0..200).map(black_box).sum::<u64>(),
                };
                round += 1;
            }
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    let host = host_thread::spawn("irq-host", move || {
        let start = Instant::now();
        let mut raises = 0u64;
        while start.elapsed() < run_time {
            RAISED_AT_NANOS.store(epoch.elapsed().as_nanos() as u64, Ordering::SeqCst);
            RAISED.fetch_add(1, Ordering::SeqCst);
            raiser.raise();
            raises += 1;
            std::thread::sleep(Duration::from_micros(50 + (raises % 7) * 30));
        }
        raises
    })
    .map_err(|e| e.to_string())?;
    wait_until_finished(&host)?;
    let raises = host
        .join()
        .map_err(|_| "the host thread panicked".to_string())?;
    STOP.store(true, Ordering::SeqCst);
    wait_for_count(&done, 4, Duration::from_secs(10))?;
    let mut latencies = latencies_rx
        .try_recv()
        .map_err(|_| "the receiver reported nothing".to_string())?;
    check(!latencies.is_empty(), || {
        "no interrupt reached the task".into()
    })?;
    latencies.sort_unstable();
    let median_us = latencies[latencies.len() / 2] / 1000;
    let p99_us = latencies[latencies.len() * 99 / 100] / 1000;
    Ok(format!(
        "{raises} raises, {} wake-ups, latency median {median_us} us, p99 {p99_us} us",
        latencies.len()
    ))
}

/// A task's real stack use, painted (`board::posix::stack_paint`): a call that fills a 48 KiB
/// frame moves the calling task's peak by at least that much and not much more, and another
/// task's 16 KiB frame shows in that task's figure only.
#[cfg(target_os = "linux")]
pub(crate) fn stack_painting(_: ()) -> Outcome {
    use freertos_https::board::posix::stack_paint::{StackPeak, current_thread_peak};

    fn bytes(peak: Option<StackPeak>) -> Result<usize, String> {
        match peak {
            Some(StackPeak::Bytes(bytes) | StackPeak::AtMost(bytes)) => Ok(bytes),
            other => Err(format!("unexpected stack figure {other:?}")),
        }
    }
    /// Touches every byte of an `N`-byte frame, then returns the task's peak.
    #[inline(never)]
    fn deep<const N: usize>() -> Option<StackPeak> {
        let mut frame = [0u8; N];
        for (index, byte) in frame.iter_mut().enumerate() {
            *byte = black_box(index as u8) | 1;
        }
        black_box(&mut frame);
        current_thread_peak()
    }
    const OURS: usize = 48 * 1024;
    const THEIRS: usize = 16 * 1024;
    // At most: a frame's own overhead, the painting's clearance below the entry, and a tick
    // signal's frame (the POSIX port's tick handler runs on whichever task thread it hits).
    const SLACK: usize = 12 * 1024;

    let before = bytes(current_thread_peak())?;
    let other = Arc::new(AtomicUsize::new(0));
    let seen = other.clone();
    spawn("deep-task", APP_PRIORITY + 1, move || {
        seen.store(bytes(deep::<THEIRS>()).unwrap_or(0), Ordering::SeqCst);
    })?;
    let theirs = other.load(Ordering::SeqCst);
    check((THEIRS..THEIRS + SLACK).contains(&theirs), || {
        format!("the other task's peak is {theirs} B after a {THEIRS} B frame")
    })?;
    let unchanged = bytes(current_thread_peak())?;
    // Spawning (and a tick signal) may go a little deeper here, but not by the other frame.
    check(unchanged < before + THEIRS / 2, || {
        format!("this task's peak moved from {before} B to {unchanged} B by another task's frame")
    })?;
    let after = bytes(deep::<OURS>())?;
    check((OURS..before.max(OURS) + SLACK).contains(&after), || {
        format!("this task's peak is {after} B after a {OURS} B frame (it was {before} B)")
    })?;
    Ok(format!(
        "peak {before} B, then {after} B after a {OURS} B frame; another task's {theirs} B after a {THEIRS} B one"
    ))
}
