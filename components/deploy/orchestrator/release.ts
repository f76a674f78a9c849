/**
 * The multi-host release: `bluegreen release` on a stack's hosts, a batch at a time, so that every
 * host ends on the same version. Every host is checked first (nothing changes if one cannot be
 * reached); if a release fails, the hosts this run already switched are released back to what they
 * served before (an instant switch to their retained colour on the host).
 *
 * Hosts are reached through a Transport: the real one is OpenSSH (ssh.ts); unit tests give a fake
 * that plays the hosts.
 */
import type { HostTarget, ReleaseTarget } from "../host-commands";
import { gateCommand } from "../host-commands";
import type { CanarySettings } from "./canary-settings";
import type { HostStatus, ReleaseSummary } from "./summary";
import { HostReportError, readHostLine } from "./summary";

/** What running one command on a host gave. */
export interface HostResult {
    /** The exit code of the command (ssh's 255 when the connection failed). */
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a gate command (`bluegreen <plain words>`) on a host. Resolves for any exit code. */
export interface Transport {
    run(host: HostTarget, command: string): Promise<HostResult>;
}

/** Everything one run releases, already checked (see cli.ts). */
export interface ReleasePlan {
    readonly user: string;
    readonly hosts: readonly HostTarget[];
    readonly batchSize: number;
    readonly target: ReleaseTarget;
    /** Options for every `bluegreen release` (host-commands.ts, toolOptions). */
    readonly toolOptions: readonly string[];
    /** Options of one host's tool only, by host name (hosts sharing a machine). */
    readonly hostOptions: Readonly<Record<string, readonly string[]>>;
    /** Release as a canary with these steps and thresholds (canary.ts); absent: blue-green. */
    readonly canary?: CanarySettings;
}

/**
 * Exit codes of the orchestrator besides the tool's own (which a failed release passes on):
 * 13 a canary judged worse than the stable version (or given too few requests to judge), after
 * which every host serves the stable version again.
 */
export const EXIT = { failed: 1, usage: 2, unreachable: 9, hostReport: 10, canary: 13 } as const;

/** A failed run: its message and the exit code the orchestrator ends with. */
export class OrchestratorError extends Error {
    readonly exitCode: number;

    constructor(message: string, exitCode: number) {
        super(message);
        this.exitCode = exitCode;
    }
}

/** The most hosts checked at once before a release (each check is one ssh connection). */
export const CHECKS_AT_ONCE = 32;

/** fn over items, `size` at a time (each group after the one before has ended); results in order. */
async function inGroups<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    for (let i = 0; i < items.length; i += size) {
        results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
    }
    return results;
}

/** A host's options that say which instance it is: all that `status` needs. */
export function instanceOptions(options: readonly string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i + 1 < options.length; i++) {
        if (options[i] === "--instance" || options[i] === "--state-dir") out.push(options[i], options[i + 1]);
    }
    return out;
}

export const lastLine = (text: string) => text.replace(/\n+$/, "").split("\n").pop() ?? "";
export const prefixed = (name: string, text: string) =>
    text
        .replace(/\n+$/, "")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => `[${name}] ${l}`);

/** The host tool's message of a failed command: its last `error:` line, else its last line. */
export function reasonOf(stderr: string): string {
    const errors = stderr.split("\n").filter((l) => l.includes("error:"));
    if (errors.length > 0) return errors[errors.length - 1].replace(/^[^:]*: error: /, "");
    return lastLine(stderr);
}

/**
 * The exit code a failed release ends the run with: the tool's own (3 lock held, 5 never healthy,
 * 6 smoke test failed, ...; host/bluegreen's EXIT_* codes), so callers can tell them apart; 1 for
 * what is not the tool's (ssh's 255, a signal).
 */
export function failureCode(code: number): number {
    return code >= 1 && code <= 125 ? code : EXIT.failed;
}

/** The tool options of one host: the plan's, then the host's own. */
export function hostToolOptions(plan: ReleasePlan, host: HostTarget): string[] {
    return [...plan.toolOptions, ...(plan.hostOptions[host.name] ?? [])];
}

/** Reads a host's status line (readHostLine); a refused one fails the run with exit 10. */
export function readBack(host: HostTarget, what: string, line: string): HostStatus {
    try {
        return readHostLine(host.name, what, line);
    } catch (e) {
        if (e instanceof HostReportError) throw new OrchestratorError(e.message, EXIT.hostReport);
        throw e;
    }
}

/**
 * Asks every host what it serves (`bluegreen status`) before anything changes; one that cannot be
 * reached, or is not set up for the deploy key, fails the run with exit 9 and nothing changed.
 */
export async function checkHosts(
    plan: ReleasePlan,
    transport: Transport,
    log: (line: string) => void,
): Promise<Map<string, HostStatus>> {
    // The checks run at once (CHECKS_AT_ONCE at most): a fleet's check takes about one connection's
    // time, not one per host. They are judged in host order, so the first host that fails is named.
    const checks = await inGroups(plan.hosts, CHECKS_AT_ONCE, (host) =>
        transport.run(host, gateCommand(["status", ...instanceOptions(hostToolOptions(plan, host))])),
    );
    const before = new Map<string, HostStatus>();
    plan.hosts.forEach((host, i) => {
        const r = checks[i];
        if (r.code !== 0) {
            // 127: a shell, not the gate, answered: the key is not restricted to the release tool there.
            const hint =
                r.code === 127
                    ? " (this host is not set up for the deploy key: its admin runs the setup once, see scripts/host-setup.sh)"
                    : "";
            throw new OrchestratorError(
                `cannot check ${host.name} (${host.address}:${host.port}) as ${plan.user}; nothing was changed on any host: ` +
                    `${r.stderr.replace(/\n/g, " ")}${hint}`,
                EXIT.unreachable,
            );
        }
        const status = readBack(host, "status", lastLine(r.stdout));
        before.set(host.name, status);
        log(`${host.name} serves ${status.version || "nothing yet"}`);
    });
    return before;
}

/**
 * Releases plan.target on every host. `log` gets the progress lines (stderr); resolves with what
 * each host serves afterwards; rejects with an OrchestratorError naming the host and the cause.
 */
export async function releaseHosts(
    plan: ReleasePlan,
    transport: Transport,
    log: (line: string) => void,
): Promise<ReleaseSummary> {
    const { target } = plan;
    const optionsOf = (host: HostTarget) => hostToolOptions(plan, host);

    // 1. Every host answers, with its pinned key, before anything changes.
    const before = await checkHosts(plan, transport, log);

    const release = (host: HostTarget, t: ReleaseTarget) =>
        transport.run(
            host,
            gateCommand([
                "release",
                "--image",
                t.image,
                "--version",
                t.version,
                "--digest",
                t.digest,
                ...optionsOf(host),
            ]),
        );

    // 2. Batches, in order; the hosts of a batch in parallel.
    const switched: HostTarget[] = [];
    const outputs = new Map<string, string>();
    let failed: { host: HostTarget; result: HostResult } | undefined;
    for (let i = 0; i < plan.hosts.length && failed === undefined; i += plan.batchSize) {
        const batch = plan.hosts.slice(i, i + plan.batchSize);
        log(`releasing ${target.version} on ${batch.map((h) => h.name).join(" ")}`);
        const results = await Promise.all(batch.map((host) => release(host, target)));
        batch.forEach((host, j) => {
            const result = results[j];
            prefixed(host.name, result.stderr).forEach(log);
            if (result.code === 0) {
                outputs.set(host.name, result.stdout);
                if (before.get(host.name)?.digest !== target.digest) switched.push(host);
            } else {
                failed ??= { host, result };
            }
        });
    }

    if (failed !== undefined) {
        const { host, result } = failed;
        const reason = reasonOf(result.stderr);
        log(`release of ${target.version} failed on ${host.name} (exit ${result.code}): ${reason}`);
        // The switched hosts go back batchSize at once, as they were released: each is an instant
        // switch to its retained colour, so a fleet's switch-back takes its batches' time, not its hosts'.
        const outcomes = await inGroups(switched, plan.batchSize, async (h): Promise<string | undefined> => {
            const prev = before.get(h.name)!;
            if (prev.digest === "") return `${h.name} (it had no earlier release)`;
            log(`switching ${h.name} back to ${prev.version}`);
            // Only values the host reported and readHostLine validated go back into a command.
            const r = await release(h, {
                image: prev.image || target.image,
                version: prev.version,
                digest: prev.digest,
            });
            if (r.code === 0) return undefined;
            prefixed(h.name, r.stderr).forEach(log);
            return `${h.name} (rollback failed)`;
        });
        const back = switched.filter((_, i) => outcomes[i] === undefined).map((h) => h.name);
        const stuck = outcomes.filter((o) => o !== undefined);
        let message = `release of ${target.version} failed on ${host.name}: ${reason}`;
        if (back.length > 0) message += `; switched ${back.join(" ")} back to their previous version`;
        if (stuck.length > 0) message += `; NOT rolled back: ${stuck.join(" ")}`;
        throw new OrchestratorError(message, failureCode(result.code));
    }

    // 3. What serves now, per host, from each release's own summary line.
    const hosts: ReleaseSummary["hosts"] = {};
    for (const host of plan.hosts) {
        const lines = (outputs.get(host.name) ?? "").split("\n").filter((l) => l.startsWith("{"));
        const s = readBack(host, "release", lines[lines.length - 1] ?? "");
        if (s.digest !== target.digest) {
            throw new OrchestratorError(
                `${host.name} reported ${s.digest || "nothing"} after releasing ${target.digest}`,
                EXIT.hostReport,
            );
        }
        hosts[host.name] = { version: s.version, digest: s.digest, ...(s.active && { colour: s.active }) };
    }
    log(`all ${plan.hosts.length} host(s) serve ${target.version}`);
    return { version: target.version, digest: target.digest, hosts };
}
