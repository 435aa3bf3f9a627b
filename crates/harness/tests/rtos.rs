//! The RTOS layer through the real kernel: each scenario of `rtos-selftest` in a process of
//! its own (the scheduler is a process-wide singleton), checked from outside. The portable
//! scenarios (`rtos-selftest`'s `portable` module) are the ones every board runs; the rest
//! need the simulator's host threads and CPUs.

mod common;

use std::time::Duration;

use common::{Run, tail};

const SELFTEST: &str = env!("CARGO_BIN_EXE_rtos-selftest");

fn expect_pass(name: &str) -> String {
    common::expect_pass(SELFTEST, name)
}

fn run_scenario(name: &str, limit: Duration) -> Run {
    common::run_scenario(SELFTEST, name, limit)
}

#[test]
fn a_higher_priority_task_preempts_a_busy_one() {
    expect_pass("preemption");
}

#[test]
fn equal_priority_busy_tasks_share_the_cpu_by_time_slicing() {
    expect_pass("time_slicing");
}

#[test]
fn delays_last_at_least_as_long_as_asked_and_not_much_longer() {
    expect_pass("delays");
}

#[test]
fn a_queue_carries_owned_items_between_tasks_in_order_with_timeouts() {
    expect_pass("queue");
}

#[test]
fn notifications_wake_a_waiting_task_and_time_out_when_absent() {
    expect_pass("notification");
}

#[test]
fn a_contended_mutex_loses_no_update() {
    expect_pass("mutex");
}

#[test]
fn a_vec_in_a_task_moves_the_freertos_free_heap() {
    expect_pass("heap_accounting");
}

#[test]
fn alignments_up_to_64_are_honoured_on_the_freertos_heap() {
    expect_pass("alignment");
}

#[test]
fn alignments_up_to_64_are_honoured_on_the_host_heap() {
    expect_pass("host_heap_alignment");
}

#[test]
fn host_threads_and_tasks_allocate_at_once_without_corruption_or_leaks() {
    expect_pass("host_threads_allocate");
}

#[test]
fn tasks_that_return_are_deleted_and_their_memory_reclaimed() {
    expect_pass("task_returns");
}

/// Every line of the stress run must be whole and in per-source order, and the number of
/// lines seen must match what each source says it logged.
#[test]
fn logging_from_three_priorities_and_a_host_thread_never_deadlocks_or_tears_lines() {
    let run = run_scenario("logger_stress", Duration::from_secs(90));
    assert_eq!(
        run.status,
        Some(0),
        "stderr: {}\nstdout tail: {}",
        run.stderr,
        tail(&run.stdout, 10)
    );
    let sources = ["log-low", "log-mid", "log-high", "log-host"];
    let mut next_sequence = [0usize; 4];
    for line in run
        .stdout
        .lines()
        .filter(|line| line.contains(" stress source="))
    {
        let (source, sequence) = parse_stress_line(line)
            .unwrap_or_else(|| panic!("torn or malformed log line: {line:?}"));
        let index = sources
            .iter()
            .position(|name| *name == source)
            .expect("known source");
        assert_eq!(
            sequence, next_sequence[index],
            "line out of order or lost before: {line:?}"
        );
        next_sequence[index] += 1;
    }
    let pass = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("PASS logger_stress lines "))
        .expect("PASS line");
    for (index, source) in sources.iter().enumerate() {
        let reported: usize = pass
            .split_whitespace()
            .find_map(|field| field.strip_prefix(&format!("{source}=")))
            .and_then(|count| count.parse().ok())
            .expect("count in PASS line");
        assert_eq!(
            reported, next_sequence[index],
            "{source} logged {reported} lines, {} came out",
            next_sequence[index]
        );
    }
}

/// `[    1.234567] INFO  [log-mid] rtos_selftest: stress source=log-mid seq=42 payload=1f`
fn parse_stress_line(line: &str) -> Option<(&str, usize)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] INFO  [")?;
    let (seconds, micros) = stamp.trim().split_once('.')?;
    seconds.parse::<u64>().ok()?;
    (micros.len() == 6).then_some(())?;
    micros.parse::<u32>().ok()?;
    let (task, rest) = rest.split_once("] rtos_selftest::simulator: stress source=")?;
    let (source, rest) = rest.split_once(" seq=")?;
    let (sequence, payload) = rest.split_once(" payload=")?;
    let sequence: usize = sequence.parse().ok()?;
    let expected_payload = format!("{:x}", sequence * 2654435761);
    let task_matches = task == source || (source == "log-host" && task == "host");
    (task_matches && payload == expected_payload).then_some((source, sequence))
}

#[test]
fn a_panicking_task_ends_the_process_with_a_message_and_status_101() {
    let run = run_scenario("task_panic", Duration::from_secs(60));
    assert_eq!(
        run.status,
        Some(101),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("panic in task 'boom'"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("deliberate panic for the self-test"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("task 'boom' panicked; stopping"),
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn a_failed_kernel_assert_names_file_and_line_and_exits_70() {
    let run = run_scenario("kernel_assert", Duration::from_secs(60));
    assert_eq!(
        run.status,
        Some(70),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    let message = run
        .stderr
        .lines()
        .find(|line| line.starts_with("FreeRTOS assert failed: "))
        .expect("assert message");
    let (file, line) = message
        .trim_start_matches("FreeRTOS assert failed: ")
        .rsplit_once(':')
        .expect("file:line");
    assert!(file.ends_with("queue.c"), "assert in {file}");
    assert!(
        line.parse::<u32>().is_ok_and(|line| line > 0),
        "line {line}"
    );
}

#[test]
fn unknown_scenarios_are_refused_with_a_message() {
    let run = run_scenario("no_such_scenario", Duration::from_secs(30));
    assert_eq!(run.status, Some(2));
    assert!(
        run.stderr.contains("unknown scenario"),
        "stderr: {}",
        run.stderr
    );
}

/// A host thread raising an interrupt line thousands of times while tasks at three priorities
/// spin, block, allocate and take critical sections: no kernel assert, no lost final wake-up.
#[test]
fn host_thread_interrupts_reach_the_task_safely_under_load() {
    let details = expect_pass("interrupt_stress");
    assert!(details.contains("latency median"), "{details}");
}

/// The CPU counts a `host_cpus` run reported: (this task, another task, a host thread).
fn reported_cpus(details: &str) -> (usize, usize, usize) {
    let numbers: Vec<usize> = details
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .collect();
    match numbers[..] {
        [task, other_task, host_thread] => (task, other_task, host_thread),
        _ => panic!("unexpected host_cpus report: {details}"),
    }
}

#[test]
fn tasks_share_one_host_cpu_and_host_threads_get_the_others() {
    let ours = std::thread::available_parallelism().map_or(1, usize::from);
    let (task, other_task, host_thread) = reported_cpus(&expect_pass("host_cpus"));
    assert_eq!(
        (task, other_task),
        (1, 1),
        "tasks must be pinned to one CPU"
    );
    let expected = if ours > 1 { ours - 1 } else { 1 };
    assert_eq!(
        host_thread, expected,
        "host threads get every CPU but the kernel's"
    );
}

#[test]
fn freertos_sim_cpu_any_leaves_tasks_unpinned() {
    let ours = std::thread::available_parallelism().map_or(1, usize::from);
    let details =
        common::expect_pass_with_env(SELFTEST, "host_cpus", &[("FREERTOS_SIM_CPU", "any")]);
    assert_eq!(reported_cpus(&details), (ours, ours, ours), "{details}");
}

#[cfg(target_os = "linux")]
#[test]
fn painting_measures_each_tasks_own_stack() {
    expect_pass("stack_painting");
}

#[test]
fn freertos_sim_cpu_picks_the_cpu() {
    let details = common::expect_pass_with_env(SELFTEST, "host_cpus", &[("FREERTOS_SIM_CPU", "0")]);
    let (task, _, _) = reported_cpus(&details);
    assert_eq!(task, 1, "{details}");
}

#[test]
fn a_handle_kept_after_its_task_ended_notifies_nothing() {
    expect_pass("handle_outlives_task");
}
