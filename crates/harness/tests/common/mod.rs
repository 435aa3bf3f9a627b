//! Runs self-test scenarios, each in a process of its own, and checks them from outside.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a scenario process did.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs one scenario, killing it (and failing) if it outlives `limit`: a hang is a failure.
pub fn run_scenario(program: &str, name: &str, limit: Duration) -> Run {
    run_scenario_with_env(program, name, limit, &[])
}

/// [`run_scenario`] with extra environment variables.
pub fn run_scenario_with_env(
    program: &str,
    name: &str,
    limit: Duration,
    env: &[(&str, &str)],
) -> Run {
    let mut child = Command::new(program)
        .arg(name)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtos-selftest");
    // Drain both pipes on threads so a chatty scenario cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("read stdout");
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).expect("read stderr");
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for rtos-selftest") {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().expect("kill a hung scenario");
            let _ = child.wait();
            panic!("scenario {name} hung: still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Run {
        status: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Runs a scenario that must pass, and returns its `PASS` line's details.
pub fn expect_pass(program: &str, name: &str) -> String {
    expect_pass_with_env(program, name, &[])
}

/// [`expect_pass`] with extra environment variables.
pub fn expect_pass_with_env(program: &str, name: &str, env: &[(&str, &str)]) -> String {
    let run = run_scenario_with_env(program, name, Duration::from_secs(90), env);
    let pass = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("PASS {name}")));
    match (run.status, pass) {
        (Some(0), Some(details)) => details.trim().to_owned(),
        _ => panic!(
            "scenario {name} failed: status {:?}\n--- stdout (tail) ---\n{}\n--- stderr ---\n{}",
            run.status,
            tail(&run.stdout, 20),
            run.stderr
        ),
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
