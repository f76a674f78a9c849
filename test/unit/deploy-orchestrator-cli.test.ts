/**
 * The orchestrator as the component runs it: the command line of orchestratorCommand (`node - ...`)
 * through /bin/sh, its one JavaScript text (orchestrator/script.ts) on stdin and the key in the
 * environment, as @pulumi/command's local Command runs `create` with `stdin` and `environment`
 * (pulumi/pulumi-command provider/pkg/provider/local/commandOutputs.go: `sh -c`, the environment
 * appended to the provider's own). A stand-in `ssh` on PATH plays the hosts and records what it was
 * given: its argument list, its environment and the key file it was pointed at.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { orchestratorArgs, orchestratorCommand } from "../../components/deploy/host-commands";
import { orchestratorScript } from "../../components/deploy/orchestrator/script";
import { controlOptions } from "../../components/deploy/orchestrator/ssh";

const digestA = `sha256:${"a".repeat(64)}`;
const digestB = `sha256:${"b".repeat(64)}`;
const KEY =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtest\n-----END OPENSSH PRIVATE KEY-----";
const hosts = [
    { name: "web-1", address: "10.0.0.1", port: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA" },
    { name: "web-2", address: "10.0.0.2", port: 2222, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" },
];
const settings = {
    publicPort: 80,
    appPort: 8000,
    bluePort: 18001,
    greenPort: 18002,
    proxyImage: `haproxy:2.6@${digestA}`,
    health: { path: "/health", successes: 1, intervalMs: 100, timeoutSeconds: 5 },
    smokePaths: ["/health"],
    keepReleases: 5,
    lockTimeoutSeconds: 0,
    limits: { memory: "512m", pids: 512 },
};
const target = { image: "docker.io/acme/web-app", version: "2.0.0", digest: digestB };

/** A stand-in ssh: the remote command is its last argument, the host address the one before "--". */
const STAND_IN = `#!/bin/bash
set -euo pipefail
args=("$@")
# -O exit: the orchestrator closes a host's shared connection at its end.
if [[ " $* " == *" -O exit "* ]]; then printf '%s\\n' "$*" >> "$REC/control"; exit 0; fi
n=\${#args[@]}
cmd="\${args[n-1]}"
address="\${args[n-3]}"
for ((i = 0; i < n; i++)); do
    case "\${args[i]}" in
        -i) key="\${args[i+1]}" ;;
        UserKnownHostsFile=*) known="\${args[i]#UserKnownHostsFile=}" ;;
    esac
done
printf '%s\\n' "$*" >> "$REC/argv"
printf '%s %s\\n' "$(stat -c %a "$key")" "$(stat -c %a "$(dirname "$key")")" > "$REC/modes"
# The hosts are checked concurrently: cat through ">" (O_TRUNC), not cp, whose create races.
cat "$key" > "$REC/key-seen"
cat "$known" > "$REC/known_hosts"
dirname "$key" > "$REC/workdir"
env > "$REC/env"
case "$cmd" in
    *" status"*)
        printf '{"instance":"app","version":"1.0.0","digest":"${digestA}","image":"docker.io/acme/web-app","active":{"colour":"blue"},"retained":null}\\n' ;;
    *" release "*)
        if [[ -f "$REC/hang" ]]; then echo $$ > "$REC/ssh-pid"; touch "$REC/hanging"; exec sleep 30; fi
        if [[ -f "$REC/locked" ]]; then
            echo "bluegreen: error: another release holds the lock on /home/deploy/.local/state/bluegreen/app/lock (waited 0s): pid 4242" >&2
            exit 3
        fi
        read -r -a w <<<"$cmd"
        for ((i = 0; i < \${#w[@]}; i++)); do
            case "\${w[i]}" in --version) v="\${w[i+1]}" ;; --digest) d="\${w[i+1]}" ;; esac
        done
        printf '{"instance":"app","version":"%s","digest":"%s","image":"docker.io/acme/web-app","active":{"colour":"green"},"retained":{"colour":"blue"}}\\n' "$v" "$d" ;;
    *) exit 99 ;;
esac
`;

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    rec: string;
    read: (file: string) => string;
}

/** Runs the component's command line with the stand-in ssh; `during` may act while it runs. */
function runCommand(
    args: readonly string[],
    opts: {
        env?: Record<string, string>;
        flags?: string[];
        during?: (pid: number, rec: string) => void;
    } = {},
): Promise<Run> {
    const rec = fs.mkdtempSync(path.join(os.tmpdir(), "orchestrator-cli-"));
    const bin = path.join(rec, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "ssh"), STAND_IN, { mode: 0o755 });
    for (const f of opts.flags ?? []) fs.writeFileSync(path.join(rec, f), "");
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", orchestratorCommand(args)], {
            env: {
                PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
                REC: rec,
                TMPDIR: rec,
                ...opts.env,
            },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            const read = (f: string) =>
                fs.existsSync(path.join(rec, f)) ? fs.readFileSync(path.join(rec, f), "utf8") : "";
            resolve({ code, stdout, stderr, rec, read });
        });
        child.stdin.end(orchestratorScript());
        opts.during?.(child.pid!, rec);
    });
}

const argsFor = (extra: { keyFile?: string } = {}) =>
    orchestratorArgs(target, settings, { user: "deploy", hosts, batchSize: 1, ...extra });

/** The private work directory the orchestrator made under TMPDIR (the recording directory). */
const workDirs = (rec: string) => fs.readdirSync(rec).filter((f) => f.startsWith("release-hosts-"));

describe("deploy: the orchestrator's command, run as @pulumi/command runs it", function () {
    this.timeout(20_000);

    it("releases through ssh with the pinned host keys, the key in a 0600 file it removes, never in argv or a child's environment", async () => {
        const r = await runCommand(argsFor(), { env: { BLUEGREEN_SSH_KEY: KEY } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), {
            version: "2.0.0",
            digest: digestB,
            hosts: {
                "web-1": { version: "2.0.0", digest: digestB, colour: "green" },
                "web-2": { version: "2.0.0", digest: digestB, colour: "green" },
            },
        });
        const argv = r.read("argv").trim().split("\n");
        assert.strictEqual(argv.length, 4, "two status checks, two releases");
        const workDir = r.read("workdir").trim();
        // The two checks run at once, so they are recorded in either order; the releases, one batch after the other.
        const check = (address: string) => argv.slice(0, 2).find((l) => l.includes(` ${address} -- `)) ?? "";
        assert.strictEqual(
            check("10.0.0.1"),
            `-F /dev/null -n -o ControlMaster=auto -o ControlPath=${workDir}/%C -o ControlPersist=60 ` +
                `-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${workDir}/known_hosts ` +
                "-o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 " +
                `-o ServerAliveCountMax=4 -o LogLevel=ERROR -i ${workDir}/key -p 22 -l deploy 10.0.0.1 -- bluegreen status`,
        );
        assert.match(check("10.0.0.2"), /-p 2222 -l deploy 10\.0\.0\.2 -- bluegreen status$/);
        assert.match(argv[2], /10\.0\.0\.1 -- bluegreen release --image /);
        assert.match(
            argv[3],
            /10\.0\.0\.2 -- bluegreen release --image docker\.io\/acme\/web-app --version 2\.0\.0 /,
        );
        // Each host's check and release share one connection, which the run closes at its end.
        assert.deepStrictEqual(r.read("control").trim().split("\n").sort(), [
            `-F /dev/null -o ControlMaster=auto -o ControlPath=${workDir}/%C -o ControlPersist=60 -o LogLevel=QUIET -p 22 -l deploy -O exit 10.0.0.1`,
            `-F /dev/null -o ControlMaster=auto -o ControlPath=${workDir}/%C -o ControlPersist=60 -o LogLevel=QUIET -p 2222 -l deploy -O exit 10.0.0.2`,
        ]);
        assert.strictEqual(
            r.read("known_hosts"),
            `10.0.0.1 ${hosts[0].hostKey}\n[10.0.0.2]:2222 ${hosts[1].hostKey}\n`,
            "only the stack's keys are trusted",
        );
        assert.strictEqual(r.read("modes"), "600 700\n", "key file 0600 in a 0700 directory");
        assert.strictEqual(r.read("key-seen"), `${KEY}\n`);
        const env = r.read("env");
        assert.ok(!env.includes("BLUEGREEN_SSH_KEY"), "ssh's environment has no key variable");
        assert.ok(!env.includes("b3BlbnNzaC1rZXktdjEAAAAAtest"), "nor the key under another name");
        for (const text of [...argv, r.stdout, r.stderr])
            assert.ok(!text.includes("b3BlbnNzaC1rZXktdjEAAAAAtest"));
        assert.deepStrictEqual(workDirs(r.rec), [], "the key's directory is gone");
        fs.rmSync(r.rec, { recursive: true });
    });

    it("shares one connection per host only where the control socket's path fits a Unix socket", () => {
        assert.deepStrictEqual(controlOptions("/tmp/release-hosts-AbC123"), [
            ...["-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/release-hosts-AbC123/%C"],
            ...["-o", "ControlPersist=60"],
        ]);
        // A long TMPDIR: ssh would refuse the socket's path and fail the connection; connect each time.
        assert.deepStrictEqual(controlOptions(`/${"d".repeat(60)}/release-hosts-AbC123`), []);
    });

    it("a cancelled run (SIGTERM) stops its ssh processes and still removes the key file (exit 143)", async () => {
        const r = await runCommand(argsFor(), {
            env: { BLUEGREEN_SSH_KEY: KEY },
            flags: ["hang"],
            during: (pid, rec) => {
                const poll = setInterval(() => {
                    if (!fs.existsSync(path.join(rec, "hanging"))) return;
                    clearInterval(poll);
                    // The signal a cancelled `pulumi up` sends: to node, whether or not sh exec'd it.
                    const shell = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("/bin/sh");
                    if (shell) spawn("pkill", ["-TERM", "-P", String(pid)]);
                    else process.kill(pid, "SIGTERM");
                }, 20);
            },
        });
        assert.strictEqual(r.code, 143, r.stderr);
        assert.match(r.stderr, /release-hosts: error: interrupted by SIGTERM/);
        assert.ok(fs.existsSync(path.join(r.rec, "key-seen")), "the run had written the key");
        const sshPid = Number(r.read("ssh-pid"));
        // Running, not a zombie (this machine's pid 1 may never reap an orphan): /proc/PID/stat's state.
        const alive = () => {
            try {
                return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${sshPid}/stat`, "utf8"));
            } catch {
                return false;
            }
        };
        for (let i = 0; i < 50 && alive(); i++) await new Promise((done) => setTimeout(done, 20));
        const stopped = !alive();
        if (!stopped) process.kill(sshPid, "SIGKILL"); // leave nothing behind when the check fails
        assert.ok(stopped, "the ssh it had started is stopped");
        assert.deepStrictEqual(workDirs(r.rec), [], "the key's directory is gone");
        fs.rmSync(r.rec, { recursive: true });
    });

    it("a held lock: the tool's exit code 3 and message are the command's", async () => {
        const r = await runCommand(argsFor(), { env: { BLUEGREEN_SSH_KEY: KEY }, flags: ["locked"] });
        assert.strictEqual(r.code, 3, r.stderr);
        assert.match(
            r.stderr,
            /release-hosts: error: release of 2\.0\.0 failed on web-1: another release holds the lock on \S+ \(waited 0s\): pid 4242\n$/,
        );
        assert.strictEqual(r.stdout, "", "no summary when the release failed");
        assert.deepStrictEqual(workDirs(r.rec), []);
        fs.rmSync(r.rec, { recursive: true });
    });

    const bad: [string, string[], Record<string, string>, RegExp][] = [
        ["no key at all", argsFor(), {}, /no SSH key: give --key-file or set BLUEGREEN_SSH_KEY/],
        [
            "an unreadable key file",
            argsFor({ keyFile: "/nonexistent/key" }),
            {},
            /cannot read SSH key file \/nonexistent\/key/,
        ],
        [
            "a version with shell words",
            argsFor().map((a) => (a === "2.0.0" ? "1.0;rm -rf /" : a)),
            { BLUEGREEN_SSH_KEY: KEY },
            /invalid version "1\.0;rm -rf \/"/,
        ],
        [
            "a tool option that sets the version",
            [...argsFor(), "--version"],
            { BLUEGREEN_SSH_KEY: KEY },
            /give --version to release-hosts, not after --/,
        ],
        [
            "a host twice",
            ["--host", `web-1 10.0.0.9 22 ${hosts[0].hostKey}`, ...argsFor()],
            { BLUEGREEN_SSH_KEY: KEY },
            /host web-1 is listed twice/,
        ],
        [
            "a host without its key",
            ["--host", "web-1 10.0.0.1 22", ...argsFor()],
            { BLUEGREEN_SSH_KEY: KEY },
            /--host needs 'NAME ADDRESS PORT KEYTYPE KEY'/,
        ],
    ];
    const withBatch = (n: string) => {
        const args = argsFor();
        args[args.indexOf("--batch-size") + 1] = n;
        return args;
    };
    bad.push(
        [
            "a batch size above BATCH_SIZE_MAX",
            withBatch("101"),
            { BLUEGREEN_SSH_KEY: KEY },
            /batch-size must be a whole number from 1 to 100, got 101/,
        ],
        [
            "a batch size of 0",
            withBatch("0"),
            { BLUEGREEN_SSH_KEY: KEY },
            /batch-size must be a whole number from 1 to 100, got 0/,
        ],
    );
    for (const [what, args, env, message] of bad) {
        it(`refuses ${what} with exit 2 before connecting anywhere`, async () => {
            const r = await runCommand(args, { env });
            assert.strictEqual(r.code, 2, r.stderr);
            assert.match(r.stderr, message);
            assert.strictEqual(r.read("argv"), "", "ssh never ran");
            assert.deepStrictEqual(workDirs(r.rec), []);
            fs.rmSync(r.rec, { recursive: true });
        });
    }
});
