/**
 * The commands a blue-green release runs, built as data: the argument vectors of the host tool
 * (`host/bluegreen`) and of the multi-host orchestrator (`orchestrator/`, run where `pulumi` runs),
 * and the lines that install and run them. Pure, so unit tests can check every argument; the integration tests
 * run exactly these commands against real hosts.
 *
 * Every value is checked against a strict pattern here, before it can reach a shell, even though
 * config validation has already checked it: the component may be given values from elsewhere.
 */
import * as path from "path";
import { hostDefaults, hostLimits, hostToolPath } from "./host-facts";
import { hostPatterns, ownerPattern } from "./patterns";
import type { CanarySettings } from "./orchestrator/canary-settings";
import { canarySettingsSchema } from "./orchestrator/canary-settings";
import { projectDir } from "../../project";

const { port, lockTimeoutSeconds: lockTimeout } = hostLimits;

/** Where the host tool is installed, relative to the deploy user's home directory. */
export const TOOL_PATH = hostToolPath;
/**
 * What the deploy key asks a host to run: `bluegreen <subcommand> <options>`, plain words. The host's
 * gate (host/bluegreen-gate, the key's forced command) checks them and runs the installed tool.
 */
export const TOOL_COMMAND = "bluegreen";
/** The gate's source, which a host's admin installs once (scripts/host-setup.sh). */
export const GATE_SOURCE = path.join(projectDir, "components", "deploy", "host", "bluegreen-gate");
/** The host tool's source. */
export const TOOL_SOURCE = path.join(projectDir, "components", "deploy", "host", "bluegreen");

const patterns = hostPatterns;

function check(what: string, value: string, pattern: RegExp, hint: string): string {
    if (!pattern.test(value)) throw new Error(`invalid ${what} ${JSON.stringify(value)}: ${hint}`);
    return value;
}

function checkInt(what: string, value: number, min: number, max: number): string {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new Error(`invalid ${what} ${value}: must be a whole number from ${min} to ${max}`);
    }
    return String(value);
}

/** The most hosts released at once (config's deploy.batchSize, the orchestrator's --batch-size). */
export const BATCH_SIZE_MAX = 100;

/** Bounds of an app container's pids limit (the tool checks the same). */
export const PIDS_MIN = hostLimits.pids.min;
export const PIDS_MAX = hostLimits.pids.max;

/** Checks a memory limit: a size in m or g, at least Docker's minimum of 6m. */
export function checkMemory(memory: string): string {
    check("limits.memory", memory, patterns.memory, "must be a size such as 512m or 2g");
    if (memory.endsWith("m") && Number(memory.slice(0, -1)) < hostLimits.memoryMinMegabytes) {
        throw new Error(
            `invalid limits.memory ${JSON.stringify(memory)}: Docker needs at least ${hostLimits.memoryMinMegabytes}m`,
        );
    }
    return memory;
}

/** Checks a digest, as resolved from a registry or given in config. */
export function checkDigest(digest: string): string {
    return check("digest", digest, patterns.digest, "must be sha256: and 64 lowercase hex digits");
}

/** Health gate of the new colour. */
export interface HealthSettings {
    readonly path: string;
    readonly successes: number;
    readonly intervalMs: number;
    readonly timeoutSeconds: number;
}

/** How a host runs the app; the same on every host of a stack. */
export interface HostReleaseSettings {
    readonly publicPort: number;
    readonly appPort: number;
    readonly bluePort: number;
    readonly greenPort: number;
    readonly proxyImage: string;
    readonly health: HealthSettings;
    readonly smokePaths: readonly string[];
    readonly keepReleases: number;
    /** Seconds to wait for another release's lock before failing. */
    readonly lockTimeoutSeconds: number;
    /** Seconds a colour is drained at most before it is stopped. Default: host-facts' drainSeconds. */
    readonly drainSeconds?: number;
    /** Seconds a stopped colour gets after SIGTERM. Default: host-facts' stopTimeoutSeconds. */
    readonly stopTimeoutSeconds?: number;
    /** Loopback port of the proxy's Prometheus metrics (http://127.0.0.1:PORT/metrics). Default: none. */
    readonly metricsPort?: number;
    /** Limits of each app container: memory ("512m", "2g"; no swap beyond it) and processes. */
    readonly limits: { readonly memory: string; readonly pids: number };
    /** Names the containers, network and state directory on the host. Default: app. */
    readonly instance?: string;
    /** Address the proxy listens on. Default: 0.0.0.0. */
    readonly bind?: string;
}

/** What to release. */
export interface ReleaseTarget {
    readonly image: string;
    readonly version: string;
    readonly digest: string;
}

/** One host, as the stack lists it. */
export interface HostTarget {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    /** Pinned public host key, "<type> <base64>". */
    readonly hostKey: string;
}

/** The tool's options other than image, version and digest, in a fixed order. */
export function toolOptions(s: HostReleaseSettings): string[] {
    const args: string[] = [];
    if (s.instance !== undefined) {
        args.push(
            "--instance",
            check("instance", s.instance, patterns.instance, "lowercase, digits, _ or -"),
        );
    }
    if (s.bind !== undefined) {
        args.push("--bind", check("bind address", s.bind, patterns.address, "must be an IP address"));
    }
    args.push(
        "--public-port",
        checkInt("publicPort", s.publicPort, port.min, port.max),
        "--app-port",
        checkInt("appPort", s.appPort, port.min, port.max),
        "--blue-port",
        checkInt("bluePort", s.bluePort, port.min, port.max),
        "--green-port",
        checkInt("greenPort", s.greenPort, port.min, port.max),
        "--proxy-image",
        check(
            "proxyImage",
            s.proxyImage,
            patterns.proxyImage,
            "must be an image reference such as haproxy:2.6",
        ),
        "--health-path",
        check("health.path", s.health.path, patterns.urlPath, "must be a URL path such as /health"),
        "--health-successes",
        checkInt(
            "health.successes",
            s.health.successes,
            hostLimits.healthSuccesses.min,
            hostLimits.healthSuccesses.max,
        ),
        "--health-interval-ms",
        checkInt(
            "health.intervalMs",
            s.health.intervalMs,
            hostLimits.healthIntervalMs.min,
            hostLimits.healthIntervalMs.max,
        ),
        "--health-timeout",
        checkInt(
            "health.timeoutSeconds",
            s.health.timeoutSeconds,
            hostLimits.healthTimeoutSeconds.min,
            hostLimits.healthTimeoutSeconds.max,
        ),
        "--lock-timeout",
        checkInt("lockTimeoutSeconds", s.lockTimeoutSeconds, lockTimeout.min, lockTimeout.max),
        "--keep-releases",
        checkInt("keepReleases", s.keepReleases, hostLimits.keepReleases.min, hostLimits.keepReleases.max),
        ...drainOptions(s),
        ...(s.metricsPort === undefined
            ? []
            : ["--metrics-port", checkInt("metricsPort", s.metricsPort, port.min, port.max)]),
        "--memory",
        checkMemory(s.limits.memory),
        "--pids-limit",
        checkInt("limits.pids", s.limits.pids, PIDS_MIN, PIDS_MAX),
    );
    for (const p of s.smokePaths) {
        args.push(
            "--smoke-path",
            check("smoke path", p, patterns.urlPath, "must be a URL path such as /version"),
        );
    }
    if (new Set([s.publicPort, s.bluePort, s.greenPort]).size !== 3) {
        throw new Error("publicPort, bluePort and greenPort must be three different ports");
    }
    if (s.metricsPort !== undefined && [s.publicPort, s.bluePort, s.greenPort].includes(s.metricsPort)) {
        throw new Error("metricsPort must differ from publicPort, bluePort and greenPort");
    }
    return args;
}

/** --drain-timeout and --stop-timeout, checked; the host-facts defaults where not given. */
export function drainOptions(s: { drainSeconds?: number; stopTimeoutSeconds?: number }): string[] {
    const { drainSeconds: drain, stopTimeoutSeconds: stop } = hostLimits;
    return [
        "--drain-timeout",
        checkInt("drainSeconds", s.drainSeconds ?? hostDefaults.drainSeconds, drain.min, drain.max),
        "--stop-timeout",
        checkInt(
            "stopTimeoutSeconds",
            s.stopTimeoutSeconds ?? hostDefaults.stopTimeoutSeconds,
            stop.min,
            stop.max,
        ),
    ];
}

/** The image, version and digest options, checked. */
export function targetOptions(t: ReleaseTarget): string[] {
    return [
        "--image",
        check("image", t.image, patterns.image, "must be an image repository without tag"),
        "--version",
        check("version", t.version, patterns.version, "must be an image tag such as 1.4.2"),
        "--digest",
        checkDigest(t.digest),
    ];
}

/** argv of one host's release: `bluegreen release ...`. */
export function releaseArgs(t: ReleaseTarget, s: HostReleaseSettings): string[] {
    return ["release", ...targetOptions(t), ...toolOptions(s)];
}

/** The environment variable that carries the SSH private key to the orchestrator (release-hosts). */
export const KEY_VARIABLE = "BLUEGREEN_SSH_KEY";

/** Options of the orchestrator; the SSH key comes from the environment (KEY_VARIABLE). */
export interface OrchestratorOptions {
    readonly user: string;
    readonly hosts: readonly HostTarget[];
    readonly batchSize: number;
    /** Extra tool options per host name, for hosts that share one machine (tests). */
    readonly hostArgs?: Readonly<Record<string, readonly string[]>>;
    /** The SSH key file; if absent, the orchestrator reads $BLUEGREEN_SSH_KEY. */
    readonly keyFile?: string;
    /** Release as a canary with these steps and thresholds; absent: blue-green. */
    readonly canary?: CanarySettings;
}

/** argv of the orchestrator, `release-hosts` (orchestrator/cli.ts), without the program itself. */
export function orchestratorArgs(t: ReleaseTarget, s: HostReleaseSettings, o: OrchestratorOptions): string[] {
    if (o.hosts.length === 0) throw new Error("no hosts to release to");
    const args = ["--user", check("user", o.user, patterns.user, "must be a Unix user name")];
    if (o.keyFile !== undefined) args.push("--key-file", o.keyFile);
    args.push("--batch-size", checkInt("batchSize", o.batchSize, 1, BATCH_SIZE_MAX));
    for (const h of o.hosts) {
        check("host name", h.name, patterns.hostName, "must be a short lowercase name such as web-1");
        check(`address of ${h.name}`, h.address, patterns.hostAddress, "must be a host name or IP address");
        checkInt(`port of ${h.name}`, h.port, port.min, port.max);
        check(`host key of ${h.name}`, h.hostKey, patterns.hostKey, 'must be "<type> <base64>"');
        args.push("--host", `${h.name} ${h.address} ${h.port} ${h.hostKey}`);
    }
    for (const [name, extra] of Object.entries(o.hostArgs ?? {})) {
        for (const a of extra) {
            args.push(
                "--host-arg",
                `${name}=${check("host argument", a, patterns.gateWord, "letters, digits, . _ / : @ = + - only")}`,
            );
        }
    }
    if (o.canary !== undefined) args.push("--canary", JSON.stringify(canarySettingsSchema.parse(o.canary)));
    args.push(...targetOptions(t), "--", ...toolOptions(s));
    return args;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
    return patterns.gateWord.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A shell line that runs argv. */
export function commandLine(argv: readonly string[]): string {
    return argv.map(shellQuote).join(" ");
}

/**
 * The words a host's gate takes: no shell reads them, so each must be a plain word the gate accepts
 * (letters, digits and . _ / : @ = + -), which every checked value is.
 */
export function gateCommand(argv: readonly string[]): string {
    for (const word of argv) {
        if (!patterns.gateWord.test(word)) {
            throw new Error(
                `invalid word ${JSON.stringify(word)} for the host's gate: letters, digits, . _ / : @ = + - only`,
            );
        }
    }
    return [TOOL_COMMAND, ...argv].join(" ");
}

/**
 * Installs the tool given on stdin, through the gate (`bluegreen install`): the gate takes it only
 * if its sha256 is one the host's admin pinned, replaces the installed file atomically (a release
 * running meanwhile keeps the old file), records the owner of the instance, and prints the sha256.
 */
export function installCommand(options: { instance?: string; owner?: string } = {}): string {
    const claim = options.owner === undefined ? [] : claimArgs(options).slice(1);
    return gateCommand(["install", ...claim]);
}

/** Names the resource that owns an instance on a host: `bluegreen claim`'s and uninstall's --owner. */

function instanceArgs(instance: string | undefined): string[] {
    return instance === undefined
        ? []
        : ["--instance", check("instance", instance, patterns.instance, "lowercase, digits, _ or -")];
}

function claimArgs(options: { instance?: string; owner?: string }): string[] {
    return [
        "claim",
        ...instanceArgs(options.instance),
        "--owner",
        check("owner", options.owner ?? "", ownerPattern, "letters, digits, . _ - only"),
    ];
}

/**
 * Removes one instance of the app from a host (`bluegreen uninstall`: its containers, network,
 * released images and state), and the tool itself when no other instance keeps state there.
 * Nothing to do where the tool is not installed (the gate says so), nor where another resource has
 * claimed the instance since (`owner`): a host renamed in config is claimed under its new name
 * before the old name's delete runs.
 */
export function uninstallCommand(
    options: {
        instance?: string;
        lockTimeoutSeconds?: number;
        owner?: string;
        drainSeconds?: number;
        stopTimeoutSeconds?: number;
    } = {},
): string {
    const args = ["uninstall", ...instanceArgs(options.instance)];
    args.push(
        "--lock-timeout",
        checkInt(
            "lockTimeoutSeconds",
            options.lockTimeoutSeconds ?? hostDefaults.lockTimeoutSeconds,
            lockTimeout.min,
            lockTimeout.max,
        ),
    );
    if (options.owner !== undefined) {
        args.push("--owner", check("owner", options.owner, ownerPattern, "letters, digits, . _ - only"));
    }
    args.push(...drainOptions(options), "--remove-tool");
    return gateCommand(args);
}

/**
 * The local command line that runs the orchestrator: `node -` reads the program from stdin (its one
 * JavaScript text, orchestrator/script.ts), the rest are its arguments. The line names no path, so
 * `pulumi up` from another checkout or directory changes nothing; the SSH key is not among its
 * words (the orchestrator reads it from the command's secret environment).
 */
export function orchestratorCommand(args: readonly string[]): string {
    return `node - ${commandLine(args)}`;
}
