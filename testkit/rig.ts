/**
 * The real test rig for the blue-green release: Docker Engine, a registry, two sshd "hosts" on
 * loopback, started by rig-setup.sh. Helpers run the host tool over real SSH with the pinned host key,
 * exactly as the orchestrator (components/deploy/orchestrator) and the Pulumi component do. The deploy key is restricted as on a real
 * host (scripts/host-setup.sh): it runs only the gate, so what a test does on the host besides the
 * tool it does as the host's admin (this machine's root), with asHostUser.
 */
import autocannon from "autocannon";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import {
    gateCommand,
    HostReleaseSettings,
    HostTarget,
    installCommand,
    orchestratorArgs,
    OrchestratorOptions,
    ReleaseTarget,
    TOOL_PATH,
    TOOL_SOURCE,
} from "../components/deploy/host-commands";
import { orchestratorCommand } from "../components/deploy/host-commands";
import { orchestratorScript } from "../components/deploy/orchestrator/script";
import { DEFAULT_LIMITS } from "../config";

export interface Rig {
    readonly rigDir: string;
    readonly registry: string;
    readonly user: string;
    readonly privateKeyFile: string;
    readonly wrongHostKey: string;
    readonly hosts: HostTarget[];
    readonly appImage: string;
    readonly appDigests: Record<string, string>;
    readonly proxyImage: string;
}

export interface Result {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stdout: string;
    readonly stderr: string;
}

const SETUP = path.join(__dirname, "rig-setup.sh");
const RIG_DIR = process.env.BG_RIG_DIR ?? "/var/lib/bluegreen-rig";

export interface RunOptions {
    readonly input?: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly onSpawn?: (pid: number) => void;
    /** Each piece of stderr as it arrives (the whole is in the Result too). */
    readonly onStderr?: (chunk: string) => void;
}

/** Runs a program; never rejects on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => {
            stderr += d;
            opts.onStderr?.(String(d));
        });
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
        if (child.pid !== undefined) opts.onSpawn?.(child.pid);
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

let rig: Promise<Rig | string> | undefined;

/** Starts the rig once per test run; resolves to the reason when it cannot run here. */
export function ensureRig(): Promise<Rig | string> {
    rig ??= (async () => {
        if (process.getuid?.() !== 0)
            return "the integration rig needs root (it installs packages and starts dockerd)";
        if (!fs.existsSync("/usr/bin/apt-get")) return "the integration rig needs Debian's apt-get";
        const started = Date.now();
        const r = await run("bash", [SETUP], { env: { ...process.env, BG_RIG_DIR: RIG_DIR } });
        if (r.code !== 0) throw new Error(`testkit/rig-setup.sh failed (exit ${r.code}):\n${r.stderr}`);
        console.log(`      (rig ready in ${((Date.now() - started) / 1000).toFixed(1)}s)`);
        return JSON.parse(fs.readFileSync(path.join(RIG_DIR, "rig.json"), "utf8")) as Rig;
    })();
    return rig;
}

/** The rig, or a loud skip (a failure under CI, where everything must run). */
export async function requireRig(ctx: Mocha.Context): Promise<Rig> {
    const r = await ensureRig();
    if (typeof r === "string") {
        if (process.env.CI) throw new Error(`integration tests cannot run: ${r}`);
        console.log(`      SKIPPING the blue-green integration tests: ${r}`);
        ctx.skip();
    }
    return r as Rig;
}

/** A directory of this process's own for known_hosts files (never a guessable path in /tmp). */
let knownHostsDir: string | undefined;

/** ssh argv for a host, its key pinned (or a given wrong one). */
export function sshArgs(rig: Rig, host: HostTarget, hostKey = host.hostKey): string[] {
    knownHostsDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "bg-known-hosts-"));
    const knownHosts = path.join(knownHostsDir, `${host.name}-${hostKey.slice(-12).replace(/\W/g, "")}`);
    fs.writeFileSync(knownHosts, `[${host.address}]:${host.port} ${hostKey}\n`);
    return [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "-i",
        rig.privateKeyFile,
        "-p",
        String(host.port),
        "-l",
        rig.user,
        host.address,
    ];
}

/** Runs a shell line on a host over SSH. */
export function onHost(
    rig: Rig,
    host: HostTarget,
    line: string,
    opts: { input?: string; onSpawn?: (pid: number) => void } = {},
): Promise<Result> {
    return run("ssh", [...sshArgs(rig, host), "--", line], opts);
}

/** Runs the installed tool on a host through its gate: `bluegreen ARGV...`. */
export function bluegreen(
    rig: Rig,
    host: HostTarget,
    argv: readonly string[],
    opts: { onSpawn?: (pid: number) => void } = {},
): Promise<Result> {
    return onHost(rig, host, gateCommand(argv), opts);
}

/** The deploy user's home directory on the rig's hosts (one machine). */
export function hostHome(rig: Rig): string {
    const line = fs
        .readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${rig.user}:`));
    if (!line) throw new Error(`no user ${rig.user} on this machine`);
    return line.split(":")[5];
}

/** Runs a shell line as the deploy user in its home, as the host's admin would (not over SSH). */
export function asHostUser(rig: Rig, line: string): Promise<Result> {
    return run("runuser", ["-u", rig.user, "--", "bash", "-c", `cd ~ && ${line}`]);
}

/** The installed tool's path on the rig's hosts. */
export function toolPath(rig: Rig): string {
    return path.join(hostHome(rig), TOOL_PATH);
}

/** Installs the tool the way the component does: the install command, the tool on stdin. */
export async function installTool(rig: Rig, host: HostTarget): Promise<Result> {
    return onHost(rig, host, installCommand(), { input: fs.readFileSync(TOOL_SOURCE, "utf8") });
}

/** Runs the multi-host orchestrator with the argv the component builds. */
export function releaseHosts(
    rig: Rig,
    target: ReleaseTarget,
    settings: HostReleaseSettings,
    options: Omit<OrchestratorOptions, "user" | "keyFile">,
): Promise<Result> {
    const args = orchestratorArgs(target, settings, {
        ...options,
        user: rig.user,
        keyFile: rig.privateKeyFile,
    });
    return runOrchestrator(args);
}

/**
 * Runs the orchestrator exactly as the component's local command does: the command line of
 * orchestratorCommand through a shell, its JavaScript text on stdin, from the project's directory.
 */
export function runOrchestrator(
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
    opts: Pick<RunOptions, "onStderr"> = {},
): Promise<Result> {
    return run("sh", ["-c", orchestratorCommand(args)], { ...opts, input: orchestratorScript(), env });
}

/** Settings of one tool instance; each test gets its own instance name and ports. */
export function settingsFor(rig: Rig, instance: string, basePort: number): HostReleaseSettings {
    return {
        instance,
        bind: "127.0.0.1",
        publicPort: basePort,
        appPort: 8000,
        bluePort: basePort + 1,
        greenPort: basePort + 2,
        proxyImage: rig.proxyImage,
        health: { path: "/health", successes: 3, intervalMs: 200, timeoutSeconds: 20 },
        smokePaths: ["/health", "/version"],
        keepReleases: 20,
        lockTimeoutSeconds: 0,
        limits: DEFAULT_LIMITS,
    };
}

/** The release target of a test image version. */
export function target(rig: Rig, version: string): ReleaseTarget {
    const digest = rig.appDigests[version];
    if (!digest) throw new Error(`the rig has no image ${version}`);
    return { image: rig.appImage, version, digest };
}

/** Removes an instance's containers, network and state, so a test starts from an empty host. */
export async function resetInstance(rig: Rig, host: HostTarget, instance: string): Promise<void> {
    const names = ["blue", "green", "proxy"].map((c) => `${instance}-${c}`);
    await run("docker", ["rm", "-f", ...names]);
    await run("docker", ["network", "rm", `${instance}-net`]);
    void host;
    fs.rmSync(instanceStateDir(rig, instance), { recursive: true, force: true });
}

/** An instance's state directory on the rig's hosts (its lock, state and release log). */
export function instanceStateDir(rig: Rig, instance: string): string {
    return path.join(hostHome(rig), ".local/state/bluegreen", instance);
}

/** The ids of the containers the tool labelled as `instance`'s, one per line ("" when there are none). */
export async function instanceContainers(instance: string): Promise<string> {
    return (
        await run("docker", ["ps", "-aq", "--filter", `label=bluegreen.instance=${instance}`])
    ).stdout.trim();
}

/** Stops every instance this run created (containers are named by the tests' prefix). */
export async function removeInstances(prefix: string): Promise<void> {
    const ps = await run("docker", ["ps", "-aq", "--filter", `name=^${prefix}`]);
    const ids = ps.stdout.split("\n").filter(Boolean);
    if (ids.length > 0) await run("docker", ["rm", "-f", ...ids]);
    const nets = await run("docker", ["network", "ls", "-q", "--filter", `name=^${prefix}`]);
    const netIds = nets.stdout.split("\n").filter(Boolean);
    if (netIds.length > 0) await run("docker", ["network", "rm", ...netIds]);
}

/** GET on loopback. */
export function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(
            { host: "127.0.0.1", port, path: urlPath, agent: false, timeout: 5000 },
            (res) => {
                let body = "";
                res.on("data", (d) => (body += d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

/** Load that runs until stopped: autocannon's keep-alive connections on a loopback port. */
export interface Load {
    /** Stops the load; resolves with autocannon's result. */
    stop(): Promise<autocannon.Result>;
}

/** Starts `connections` keep-alive connections making GET requests to 127.0.0.1:port as fast as they can. */
export function startLoad(port: number, connections: number, urlPath = "/"): Load {
    let instance: autocannon.Instance | undefined;
    const done = new Promise<autocannon.Result>((resolve, reject) => {
        instance = autocannon(
            { url: `http://127.0.0.1:${port}${urlPath}`, connections, duration: 3600, timeout: 10 },
            (err, result) => (err ? reject(err) : resolve(result)),
        );
    });
    return {
        stop: () => {
            instance?.stop();
            return done;
        },
    };
}

/**
 * One GET through an agent (keep-alive connections, as a browser or a client library holds them):
 * resolves to the HTTP status, or to the socket error's code (ECONNRESET, TIMEOUT, ...); never rejects.
 */
export function fetchStatus(agent: http.Agent, port: number, urlPath: string): Promise<string> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent, timeout: 30_000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(String(res.statusCode)));
            res.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        });
        req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
        req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
}

/** One JSON line per release, from the host's release log. */
export async function history(
    rig: Rig,
    host: HostTarget,
    instance: string,
): Promise<Record<string, unknown>[]> {
    const r = await bluegreen(rig, host, ["history", "--instance", instance, "--last", "1000"]);
    if (r.code !== 0) throw new Error(`history failed: ${r.stderr}`);
    return r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The instance's release log read on the machine, as the host's admin reads it (no SSH): the same
 * lines as history(), for tests that read many hosts' logs at once.
 */
export function releaseLog(rig: Rig, instance: string): Record<string, unknown>[] {
    const file = path.join(instanceStateDir(rig, instance), "releases.log");
    if (!fs.existsSync(file)) return [];
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The tool's status summary. */
export async function status(rig: Rig, host: HostTarget, instance: string): Promise<Status> {
    const r = await bluegreen(rig, host, ["status", "--instance", instance]);
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as Status;
}

export interface ColourStatus {
    readonly colour: string;
    readonly version: string;
    readonly digest: string;
    readonly running: boolean;
}
export interface Status {
    readonly instance: string;
    readonly version: string;
    readonly digest: string;
    readonly active: ColourStatus | null;
    readonly retained: ColourStatus | null;
}

/** Docker's view of a container: id, start time, running. */
export async function inspect(
    name: string,
): Promise<{ id: string; startedAt: string; running: boolean } | null> {
    const r = await run("docker", [
        "inspect",
        "--format",
        "{{.Id}} {{.State.StartedAt}} {{.State.Running}}",
        name,
    ]);
    if (r.code !== 0) return null;
    const [id, startedAt, running] = r.stdout.trim().split(" ");
    return { id, startedAt, running: running === "true" };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A test image of the test's own: the rig's image of `version` with a label naming `owner`, built,
 * pushed to the rig's registry as REGISTRY/bluegreen-test/OWNER:VERSION and returned as a release
 * target. Its image id and digest differ from the rig's image, so what a test asserts about it
 * (pruned, pulled again) does not depend on other instances on the machine (the local stack, a
 * benchmark) that run the rig's images. The same owner and version give the same digest each run.
 */
export async function ownImage(rig: Rig, owner: string, version: string): Promise<ReleaseTarget> {
    const base = target(rig, version);
    const image = `${rig.registry}/bluegreen-test/${owner}`;
    const tag = `${image}:${version}`;
    const dockerfile = `FROM ${base.image}@${base.digest}\nLABEL bluegreen.test.owner="${owner}"\n`;
    const build = await run("docker", ["build", "-q", "-t", tag, "-"], { input: dockerfile });
    if (build.code !== 0) throw new Error(`docker build of ${tag} failed:\n${build.stderr}`);
    const push = await run("docker", ["push", "-q", tag]);
    if (push.code !== 0) throw new Error(`docker push ${tag} failed:\n${push.stderr}`);
    const digests = await run("docker", ["image", "inspect", "--format", "{{json .RepoDigests}}", tag]);
    const digest = (JSON.parse(digests.stdout || "[]") as string[])
        .find((d) => d.startsWith(`${image}@`))
        ?.slice(image.length + 1);
    if (!digest) throw new Error(`no registry digest for ${tag}: ${digests.stdout}${digests.stderr}`);
    return { image, version, digest };
}

/** The fleet's sshd hosts listen on 127.0.0.1:FLEET_FIRST_PORT and up, one port each. */
export const FLEET_FIRST_PORT = 2230;
/** The most fleet hosts (their ports end at 2259). */
export const FLEET_MAX_HOSTS = 30;
const FLEET_SETUP = path.join(__dirname, "fleet-setup.sh");

/**
 * Starts the fleet's first `count` hosts (fleet-01, fleet-02, ...: each its own sshd and host key on
 * loopback, testkit/fleet-setup.sh), or finds them running; starts again one that was stopped.
 * The rig (ensureRig) must be up.
 */
export async function startFleet(count: number): Promise<HostTarget[]> {
    if (!Number.isInteger(count) || count < 1 || count > FLEET_MAX_HOSTS) {
        throw new Error(`a fleet has 1 to ${FLEET_MAX_HOSTS} hosts, not ${count}`);
    }
    const r = await run(
        "bash",
        [FLEET_SETUP, "--hosts", String(count), "--first-port", String(FLEET_FIRST_PORT)],
        { env: { ...process.env, BG_RIG_DIR: RIG_DIR } },
    );
    if (r.code !== 0) throw new Error(`testkit/fleet-setup.sh failed (exit ${r.code}):\n${r.stderr}`);
    return JSON.parse(r.stdout) as HostTarget[];
}

/** Stops one fleet host's sshd, so that the host cannot be reached; startFleet starts it again. */
export async function stopFleetHost(host: HostTarget): Promise<void> {
    const pidFile = path.join(RIG_DIR, "fleet", host.name, "sshd.pid");
    process.kill(Number(fs.readFileSync(pidFile, "utf8").trim()), "SIGTERM");
    for (let i = 0; i < 40; i++) {
        if (!(await listening(host.port))) return;
        await sleep(50);
    }
    throw new Error(`sshd of ${host.name} still listens on ${host.port}`);
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

/** One fleet host with the tool instance and ports it has of its own (the hosts share one Docker Engine). */
export interface FleetMember {
    readonly host: HostTarget;
    readonly instance: string;
    readonly publicPort: number;
    readonly bluePort: number;
    readonly greenPort: number;
}

/** Each host's instance PREFIX-NN and ports: host i (from 0) has basePort + 10 i (public), + 1, + 2. */
export function fleetMembers(hosts: readonly HostTarget[], prefix: string, basePort: number): FleetMember[] {
    return hosts.map((host, i) => ({
        host,
        instance: `${prefix}-${String(i + 1).padStart(2, "0")}`,
        publicPort: basePort + 10 * i,
        bluePort: basePort + 10 * i + 1,
        greenPort: basePort + 10 * i + 2,
    }));
}

/** The orchestrator's --host-arg options that give each member its own instance and ports. */
export function fleetHostArgs(members: readonly FleetMember[]): Record<string, string[]> {
    return Object.fromEntries(
        members.map((m) => [
            m.host.name,
            [
                ...["--instance", m.instance, "--public-port", String(m.publicPort)],
                ...["--blue-port", String(m.bluePort), "--green-port", String(m.greenPort)],
            ],
        ]),
    );
}

/**
 * A fault on one host: another process holds the lock of the member's instance (as a release
 * started there by hand would), so a release on it with --lock-timeout 0 fails at once with the
 * tool's exit 3 and changes nothing there. The orchestrator sends that host the same command as
 * every other. Resolves with the function that lets the lock go.
 */
export async function holdReleaseLock(rig: Rig, member: FleetMember): Promise<() => Promise<void>> {
    const lockFile = path.join(instanceStateDir(rig, member.instance), "lock");
    if (!fs.existsSync(lockFile))
        throw new Error(`no lock file ${lockFile}: release to ${member.host.name} first`);
    // exec: the process that holds the lock is the one killed below, with nothing left behind.
    const holder = spawn(
        "bash",
        ["-c", 'exec 9>>"$1" && flock 9 && echo held && exec sleep 600', "hold", lockFile],
        {
            stdio: ["ignore", "pipe", "inherit"],
        },
    );
    const exited = new Promise<void>((resolve) => holder.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
        holder.stdout.once("data", () => resolve());
        holder.once("exit", (code) => reject(new Error(`cannot hold ${lockFile} (exit ${code})`)));
    });
    return async () => {
        holder.kill("SIGTERM");
        await exited;
    };
}
