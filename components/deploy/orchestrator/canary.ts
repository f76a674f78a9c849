/**
 * The canary release: every host starts the new version beside the stable one and gives it a share
 * of new requests (HAProxy server weights), all hosts step by step together. After each step's
 * bake, the new version's error ratio and latency are compared with the stable version's over the
 * same window, from the proxies' own per-server counters (`bluegreen canary-stats`, HAProxy's
 * `show stat`): no monitoring system is needed. A failing step, a step that never gets enough
 * requests to judge, or a failure on any host returns every host to the stable version (the new
 * colour's weight to 0, drained, removed); passing every step promotes the new version on every
 * host, which keeps the stable colour for an instant rollback, as a blue-green release does.
 */
import { z } from "zod";
import type { HostTarget } from "../host-commands";
import { gateCommand, targetOptions } from "../host-commands";
import { hostPatterns } from "../patterns";
import type { CanarySettings } from "./canary-settings";
import type { HostResult, ReleasePlan, Transport } from "./release";
import {
    checkHosts,
    EXIT,
    failureCode,
    hostToolOptions,
    instanceOptions,
    lastLine,
    OrchestratorError,
    prefixed,
    readBack,
    reasonOf,
    releaseHosts,
} from "./release";
import type { HostStatus, ReleaseSummary } from "./summary";

const count = z.number().int().min(0);
const serverSchema = z.object({
    requests: count,
    http5xx: count,
    connErrors: count,
    respErrors: count,
    sessions: count,
    responseMs: count,
});

/** `bluegreen canary-stats`: both colours' counters, as the host's proxy reports them. */
export const canaryStatsSchema = z.object({
    instance: z.string().regex(hostPatterns.instance),
    canary: z.enum(["blue", "green"]),
    stable: z.enum(["blue", "green"]),
    weight: count,
    servers: z.object({ blue: serverSchema, green: serverSchema }),
});
export type CanaryStats = z.output<typeof canaryStatsSchema>;
export type ServerCounters = z.output<typeof serverSchema>;

/** One side (new or stable) over a window: requests, errors, average response time. */
export interface Side {
    readonly requests: number;
    readonly errors: number;
    /** Average response time (ms), weighted by each host's requests in the window. */
    readonly responseMs: number;
}

/** The new and the stable version over one window, summed over the hosts. */
export interface Window {
    readonly canary: Side;
    readonly stable: Side;
}

const errorsOf = (c: ServerCounters) => c.http5xx + c.connErrors + c.respErrors;

/**
 * What happened between two readings of every host's counters: each colour's requests and errors
 * (5xx responses, connection and response errors) in the window, summed over the hosts, and its
 * average response time (HAProxy's over the last 1024 requests at the window's end), weighted by
 * each host's requests. A counter that went down (a restarted proxy) counts from zero.
 */
export function windowOf(before: readonly CanaryStats[], after: readonly CanaryStats[]): Window {
    const side = (role: "canary" | "stable"): Side => {
        let requests = 0;
        let errors = 0;
        let weighted = 0;
        after.forEach((now, i) => {
            const was = before[i];
            const a = now.servers[now[role]];
            const b = was.servers[was[role]];
            const delta = (x: number, y: number) => (x >= y ? x - y : x);
            const r = delta(a.requests, b.requests);
            requests += r;
            errors += delta(errorsOf(a), errorsOf(b));
            weighted += r * a.responseMs;
        });
        return { requests, errors, responseMs: requests > 0 ? weighted / requests : 0 };
    };
    return { canary: side("canary"), stable: side("stable") };
}

/** The thresholds a step is judged by (CanarySettings without the steps). */
export type Thresholds = Omit<CanarySettings, "steps">;

/** A step's verdict: pass, fail (with why), or wait for more requests. */
export interface Verdict {
    readonly outcome: "pass" | "fail" | "wait";
    /** The measured figures and, for fail or wait, the reason. */
    readonly message: string;
}

const pct = (errors: number, requests: number) =>
    requests > 0 ? `${((100 * errors) / requests).toFixed(2)}%` : "n/a";

/**
 * Judges one window: wait while the new version has fewer than minRequests; fail when its error
 * ratio exceeds the stable version's by more than maxErrorRatio, or when its average response time
 * is both more than maxLatencyRatio times the stable one's and more than maxLatencyIncreaseMs above
 * it (judged only when the stable version had requests too); pass otherwise.
 */
export function judge(w: Window, t: Thresholds): Verdict {
    const { canary: c, stable: s } = w;
    const figures =
        `new version: ${c.errors} errors in ${c.requests} requests (${pct(c.errors, c.requests)}), ` +
        `${c.responseMs.toFixed(0)} ms average response; stable: ${s.errors} errors in ${s.requests} ` +
        `requests (${pct(s.errors, s.requests)}), ${s.responseMs.toFixed(0)} ms`;
    if (c.requests < t.minRequests) {
        return {
            outcome: "wait",
            message: `too few requests to judge: ${c.requests} on the new version, at least ${t.minRequests} needed (${figures})`,
        };
    }
    const ratio = c.errors / c.requests;
    const stableRatio = s.requests > 0 ? s.errors / s.requests : 0;
    if (ratio - stableRatio > t.maxErrorRatio) {
        return {
            outcome: "fail",
            message:
                `error ratio ${pct(c.errors, c.requests)} is more than ${(100 * t.maxErrorRatio).toFixed(2)} ` +
                `points above the stable version's ${pct(s.errors, s.requests)} (${figures})`,
        };
    }
    if (
        s.requests > 0 &&
        c.responseMs > s.responseMs * t.maxLatencyRatio &&
        c.responseMs - s.responseMs > t.maxLatencyIncreaseMs
    ) {
        return {
            outcome: "fail",
            message:
                `average response time ${c.responseMs.toFixed(0)} ms is more than ${t.maxLatencyRatio} times ` +
                `and ${t.maxLatencyIncreaseMs} ms above the stable version's ${s.responseMs.toFixed(0)} ms (${figures})`,
        };
    }
    return { outcome: "pass", message: figures };
}

/** Time, for the bakes and waits; tests give one that does not wait. */
export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** How often a step that waits for requests looks again, in seconds. */
export const CANARY_POLL_SECONDS = 5;

/**
 * Releases plan.target as a canary (plan.canary) on every host. Hosts already serving the target
 * are left alone; where a host serves nothing yet there is nothing to compare with, and the whole
 * release is a blue-green one. Resolves with what every host serves; rejects with an
 * OrchestratorError: exit 13 when the analysis failed, the failing host's code when a host did.
 */
export async function canaryRelease(
    plan: ReleasePlan,
    transport: Transport,
    log: (line: string) => void,
    clock: Clock = realClock,
): Promise<ReleaseSummary> {
    const settings = plan.canary;
    if (settings === undefined) throw new Error("canaryRelease needs plan.canary");
    const { target } = plan;
    const before = await checkHosts(plan, transport, log);
    const hosts = plan.hosts.filter((h) => before.get(h.name)?.digest !== target.digest);
    if (hosts.length === 0 || hosts.some((h) => before.get(h.name)?.digest === "")) {
        if (hosts.length > 0)
            log(
                "a host serves nothing yet, so there is no stable version to compare with: releasing blue-green",
            );
        return releaseHosts({ ...plan, canary: undefined }, transport, log);
    }
    const instanceOf = (h: HostTarget) => instanceOptions(hostToolOptions(plan, h));
    const drainOf = (h: HostTarget) => {
        const o = hostToolOptions(plan, h);
        const out: string[] = [];
        for (let i = 0; i + 1 < o.length; i++) {
            if (o[i] === "--drain-timeout" || o[i] === "--stop-timeout") out.push(o[i], o[i + 1]);
        }
        return out;
    };
    const onAll = (hs: readonly HostTarget[], argv: (h: HostTarget) => string[]) =>
        Promise.all(hs.map((h) => transport.run(h, gateCommand(argv(h)))));
    const firstFailure = (hs: readonly HostTarget[], results: HostResult[]) => {
        results.forEach((r, i) => prefixed(hs[i].name, r.stderr).forEach(log));
        const i = results.findIndex((r) => r.code !== 0);
        return i < 0 ? undefined : { host: hs[i], result: results[i] };
    };

    /** Returns every host in `live` to the stable version; the names it could not. */
    const abort = async (live: readonly HostTarget[]): Promise<string[]> => {
        log(`returning ${live.map((h) => h.name).join(" ")} to the stable version`);
        const results = await onAll(live, (h) => ["canary-abort", ...instanceOf(h), ...drainOf(h)]);
        results.forEach((r, i) => prefixed(live[i].name, r.stderr).forEach(log));
        return live.filter((_, i) => results[i].code !== 0).map((h) => h.name);
    };
    const fail = async (live: readonly HostTarget[], message: string, code: number): Promise<never> => {
        const stuck = await abort(live);
        const ending =
            stuck.length === 0
                ? "; every host serves its previous version"
                : `; NOT returned to the stable version: ${stuck.join(" ")}`;
        throw new OrchestratorError(message + ending, code);
    };
    const hostFailed = (what: string, f: { host: HostTarget; result: HostResult }) =>
        `canary of ${target.version}: ${what} failed on ${f.host.name} (exit ${f.result.code}): ${reasonOf(f.result.stderr)}`;

    // 1. Every host starts the new version and gives it the first step's share, together.
    const first = settings.steps[0];
    log(`canary ${target.version}: starting on ${hosts.map((h) => h.name).join(" ")} at ${first.weight}%`);
    const started = await onAll(hosts, (h) => [
        "canary-start",
        ...targetOptions(target),
        ...hostToolOptions(plan, h),
        "--weight",
        String(first.weight),
    ]);
    const live = hosts.filter((_, i) => started[i].code === 0);
    const startFailure = firstFailure(hosts, started);
    if (startFailure)
        await fail(live, hostFailed("the start", startFailure), failureCode(startFailure.result.code));

    const stats = async (): Promise<CanaryStats[]> => {
        const results = await onAll(live, (h) => ["canary-stats", ...instanceOf(h)]);
        const f = firstFailure(live, results);
        if (f) return fail(live, hostFailed("reading the proxy's counters", f), failureCode(f.result.code));
        const out: CanaryStats[] = [];
        for (const [i, r] of results.entries()) {
            let json: unknown;
            try {
                json = JSON.parse(lastLine(r.stdout));
            } catch {
                json = undefined;
            }
            const parsed = canaryStatsSchema.safeParse(json);
            if (!parsed.success) {
                return fail(
                    live,
                    `${live[i].name} printed a malformed canary-stats line: ${JSON.stringify(lastLine(r.stdout).slice(0, 300))}`,
                    EXIT.hostReport,
                );
            }
            out.push(parsed.data);
        }
        return out;
    };

    // 2. Each step: set the share (after the first), bake, judge; wait while too few requests.
    for (const [n, step] of settings.steps.entries()) {
        const label = `step ${n + 1}/${settings.steps.length} (${step.weight}%)`;
        if (n > 0) {
            const results = await onAll(live, (h) => [
                "canary-weight",
                ...instanceOf(h),
                "--weight",
                String(step.weight),
            ]);
            const f = firstFailure(live, results);
            if (f) await fail(live, hostFailed(`setting ${step.weight}%`, f), failureCode(f.result.code));
        }
        const base = await stats();
        log(`canary ${target.version}: ${label}: baking ${step.bakeSeconds}s`);
        await clock.sleep(step.bakeSeconds * 1000);
        const deadline = clock.now() + settings.maxWaitSeconds * 1000;
        for (;;) {
            const verdict = judge(windowOf(base, await stats()), settings);
            if (verdict.outcome === "pass") {
                log(`canary ${target.version}: ${label} passed: ${verdict.message}`);
                break;
            }
            if (verdict.outcome === "fail") {
                await fail(
                    live,
                    `canary of ${target.version} failed at ${label}: ${verdict.message}`,
                    EXIT.canary,
                );
            }
            if (clock.now() >= deadline) {
                await fail(
                    live,
                    `canary of ${target.version} failed at ${label}: ${verdict.message}, still after waiting ${settings.maxWaitSeconds}s beyond the bake (maxWaitSeconds)`,
                    EXIT.canary,
                );
            }
            log(`canary ${target.version}: ${label}: ${verdict.message}; waiting`);
            await clock.sleep(CANARY_POLL_SECONDS * 1000);
        }
    }

    // 3. Promote on every host together; if one fails, the others go back to what they served.
    log(`canary ${target.version}: every step passed; promoting on ${live.map((h) => h.name).join(" ")}`);
    const promoted = await onAll(live, (h) => ["canary-promote", ...instanceOf(h), ...drainOf(h)]);
    const promoteFailure = firstFailure(live, promoted);
    if (promoteFailure) {
        const back: string[] = [];
        const stuck: string[] = [];
        for (const [i, h] of live.entries()) {
            if (promoted[i].code !== 0) continue;
            const prev = before.get(h.name)!;
            const r = await transport.run(
                h,
                gateCommand([
                    "release",
                    ...targetOptions({
                        image: prev.image || target.image,
                        version: prev.version,
                        digest: prev.digest,
                    }),
                    ...hostToolOptions(plan, h),
                ]),
            );
            prefixed(h.name, r.stderr).forEach(log);
            (r.code === 0 ? back : stuck).push(h.name);
        }
        // A failed promotion switched its host back itself; abort is a no-op there, and returns a
        // host whose promotion never began (a held lock) to the stable version.
        stuck.push(...(await abort(live.filter((_, i) => promoted[i].code !== 0))));
        let message = hostFailed("the promotion", promoteFailure);
        if (back.length > 0) message += `; switched ${back.join(" ")} back to their previous version`;
        if (stuck.length > 0) message += `; NOT rolled back: ${stuck.join(" ")}`;
        throw new OrchestratorError(message, failureCode(promoteFailure.result.code));
    }

    const serving: Record<string, { version: string; digest: string }> = {};
    for (const h of plan.hosts) {
        const i = live.indexOf(h);
        const s: HostStatus =
            i < 0 ? before.get(h.name)! : readBack(h, "canary-promote", lastLine(promoted[i].stdout));
        if (s.digest !== target.digest) {
            throw new OrchestratorError(
                `${h.name} reported ${s.digest || "nothing"} after promoting ${target.digest}`,
                EXIT.hostReport,
            );
        }
        serving[h.name] = { version: s.version, digest: s.digest };
    }
    log(`all ${plan.hosts.length} host(s) serve ${target.version}`);
    return { version: target.version, digest: target.digest, hosts: serving };
}
