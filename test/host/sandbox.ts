/**
 * A host in a temporary directory for the host tier: the real `bluegreen` (bash) runs with a PATH
 * that holds the stand-ins of test/stubs (docker, curl, socat, flock) and links to the few system
 * programs the tool needs, and nothing else, so no real Docker, network or root is involved. The
 * stand-ins share one state directory (the "engine") and record every call they answer.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostToolPath } from "../../components/deploy/host-facts";

export const ROOT = path.resolve(__dirname, "..", "..");
export const TOOL_SOURCE = path.join(ROOT, "components", "deploy", "host", "bluegreen");
export const GATE_SOURCE = path.join(ROOT, "components", "deploy", "host", "bluegreen-gate");
const STUBS = path.join(ROOT, "test", "stubs");
export const STAND_INS = ["docker", "curl", "socat", "flock"] as const;

/** System programs the tool and the stand-ins run (besides bash builtins). */
const SYSTEM = [
    "bash",
    "env",
    "cat",
    "date",
    "awk",
    "sha256sum",
    "cut",
    "tee",
    "id",
    "mkdir",
    "chmod",
    "mv",
    "rm",
    "grep",
    "tac",
    "head",
    "tail",
    "wc",
    "sleep",
    "sort",
    "find",
    "rmdir",
    "timeout",
    "tr",
    "readlink",
    "basename",
    "dirname",
    "sed",
    "stat",
    "mktemp",
    "ls",
    "touch",
];

function which(program: string): string {
    for (const dir of ["/usr/local/bin", "/usr/bin", "/bin"]) {
        const p = path.join(dir, program);
        if (fs.existsSync(p)) return p;
    }
    throw new Error(`${program} is not installed; the host tier needs it`);
}

export const digest = (c: string) => `sha256:${c.repeat(64)}`;
export const IMAGE = "registry.example.com/acme/web-app";
export const PROXY_IMAGE = `haproxy:2.6@sha256:${"c".repeat(64)}`;

/** One recorded call: the program and its arguments. */
export type Call = string[];

export interface Result {
    code: number | null;
    stdout: string;
    stderr: string;
    /** The stand-ins' calls during this run. */
    calls: Call[];
    /** Seconds the run took. */
    seconds: number;
    /** The last stdout line, parsed: the tool's JSON summary. */
    summary: () => Record<string, unknown>;
}

/** `bluegreen release` of one version with the image, proxy and limits every test uses. */
export function releaseArgv(version: string, d: string): string[] {
    return [
        "release",
        "--image",
        IMAGE,
        "--version",
        version,
        "--digest",
        d,
        "--proxy-image",
        PROXY_IMAGE,
        "--memory",
        "256m",
        "--pids-limit",
        "128",
    ];
}

export class Host {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-tier-"));
    readonly home = path.join(this.dir, "home");
    readonly state = path.join(this.dir, "engine");
    readonly bin = path.join(this.dir, "bin");
    readonly tool = path.join(this.home, hostToolPath);

    constructor(options: { without?: string } = {}) {
        fs.mkdirSync(path.dirname(this.tool), { recursive: true });
        fs.mkdirSync(path.join(this.state, "apps"), { recursive: true });
        fs.mkdirSync(this.bin);
        for (const p of STAND_INS) {
            if (p !== options.without) fs.symlinkSync(path.join(STUBS, p), path.join(this.bin, p));
        }
        for (const p of SYSTEM) fs.symlinkSync(which(p), path.join(this.bin, p));
        fs.copyFileSync(TOOL_SOURCE, this.tool);
        fs.writeFileSync(path.join(this.state, "calls"), "");
        fs.writeFileSync(path.join(this.state, "images"), "");
        fs.writeFileSync(path.join(this.state, "registry"), `${PROXY_IMAGE}\n`);
    }

    cleanup(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return {
            PATH: this.bin,
            HOME: this.home,
            STUB_STATE: this.state,
            STUB_NODE: process.execPath,
            ...extra,
        };
    }

    /** Pushes a version to the "registry"; `behaviour` lines: crash, unhealthy, fail PATH. */
    push(d: string, ...behaviour: string[]): void {
        fs.appendFileSync(path.join(this.state, "registry"), `${IMAGE}@${d}\n`);
        fs.writeFileSync(path.join(this.state, "apps", d), behaviour.map((b) => `${b}\n`).join(""));
    }

    callCount(): number {
        return this.calls().length;
    }

    calls(): Call[] {
        return fs
            .readFileSync(path.join(this.state, "calls"), "utf8")
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => l.split("\x1f"));
    }

    run(args: string[], extra: NodeJS.ProcessEnv = {}): Result {
        const before = this.callCount();
        const t = process.hrtime.bigint();
        const r = spawnSync("bash", [this.tool, ...args], {
            encoding: "utf8",
            env: this.env(extra),
            cwd: this.home,
        });
        const seconds = Number(process.hrtime.bigint() - t) / 1e9;
        const calls = this.calls().slice(before);
        return {
            code: r.status,
            stdout: r.stdout,
            stderr: r.stderr,
            calls,
            seconds,
            summary: () => {
                const last = r.stdout.trim().split("\n").pop() ?? "";
                try {
                    return JSON.parse(last) as Record<string, unknown>;
                } catch {
                    assert.fail(`no JSON summary on stdout: ${JSON.stringify(r.stdout)}\n${r.stderr}`);
                }
            },
        };
    }

    /** A release with fast health settings; `extra` options are appended. */
    release(version: string, d: string, ...extra: string[]): Result {
        return this.run([
            ...releaseArgv(version, d),
            "--public-port",
            "8080",
            "--health-successes",
            "2",
            "--health-interval-ms",
            "1",
            "--health-timeout",
            "2",
            ...extra,
        ]);
    }

    stateDir(instance = "app"): string {
        return path.join(this.home, ".local", "state", "bluegreen", instance);
    }

    container(name: string): { running: string; image: string; argv: string[] } | undefined {
        const d = path.join(this.state, "containers", name);
        if (!fs.existsSync(d)) return undefined;
        const read = (f: string) => fs.readFileSync(path.join(d, f), "utf8");
        return {
            running: read("running").trim(),
            image: read("image").trim(),
            argv: read("argv").split("\x1f").slice(0, -1),
        };
    }

    images(): string[] {
        return fs
            .readFileSync(path.join(this.state, "images"), "utf8")
            .split("\n")
            .filter((l) => l !== "");
    }

    /** The proxy's servers not in maintenance, as the socat stand-in keeps them. */
    routes(instance = "app"): string[] {
        const dir = path.join(this.state, "containers", `${instance}-proxy`, "servers");
        return ["blue", "green"].filter(
            (s) => (Number(fs.readFileSync(path.join(dir, s), "utf8").split(" ")[1]) & 1) === 0,
        );
    }

    releases(instance = "app"): Record<string, unknown>[] {
        const f = path.join(this.stateDir(instance), "releases.log");
        if (!fs.existsSync(f)) return [];
        return fs
            .readFileSync(f, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Record<string, unknown>);
    }

    /** Starts a process that holds the instance's lock, as a running release does; kill() frees it. */
    holdLock(instance = "app"): { kill: () => void } {
        fs.mkdirSync(this.stateDir(instance), { recursive: true });
        const lock = path.join(this.stateDir(instance), "lock");
        fs.writeFileSync(lock, "");
        fs.writeFileSync(path.join(this.stateDir(instance), "lock.holder"), "pid 1, releasing 9.9.9\n");
        const p = spawn("sleep", ["60"], { stdio: "ignore" });
        fs.mkdirSync(path.join(this.state, "locks"), { recursive: true });
        fs.writeFileSync(path.join(this.state, "locks", lock.replace(/\//g, "%")), `${p.pid}\n`);
        return { kill: () => p.kill("SIGKILL") };
    }
}

/** The calls to one program with the given first arguments. */
export function callsOf(calls: Call[], ...prefix: string[]): Call[] {
    return calls.filter((c) => prefix.every((p, i) => c[i] === p));
}

/**
 * Gives each test of a describe block a host of its own, removed after the test: `set` receives
 * it before each test. Also sets the block's timeout, which a whole release on the stand-ins fits.
 */
export function freshHostPerTest(suite: Mocha.Suite, set: (host: Host) => void): void {
    suite.timeout(20000);
    let current: Host | undefined;
    suite.beforeEach(() => {
        current = new Host();
        set(current);
    });
    suite.afterEach(() => current?.cleanup());
}
