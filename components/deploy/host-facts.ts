/**
 * Facts the host programs (host/bluegreen, host/bluegreen-gate, in bash) share with the TypeScript
 * side: the tool's defaults, the bounds of its numeric options and the exit codes of both programs.
 *
 * The bash programs carry their own copies, since they run on hosts that have bash, docker, curl,
 * socat and flock and nothing else. test/unit/host-facts.test.ts reads those copies out of the bash
 * (every `readonly RE_*`, default, bound and exit code) and fails on any difference from the values
 * here and in patterns.ts; it also holds the stack config's defaults and bounds (deploy.*) to these,
 * so that a release started by hand on a host behaves as one `pulumi up` starts.
 */

/** Where the host tool is installed, relative to the deploy user's home; the gate runs only it. */
export const hostToolPath = ".local/bin/bluegreen";

/** What the tool does when an option is not given; the same as the stack config's deploy.* defaults. */
export const hostDefaults = {
    instance: "app",
    bind: "0.0.0.0",
    publicPort: 80,
    appPort: 8000,
    bluePort: 18001,
    greenPort: 18002,
    health: { path: "/health", successes: 3, intervalMs: 500, timeoutSeconds: 60 },
    smokePaths: ["/health"],
    keepReleases: 20,
    /** A release waits this long for a running one on the same host before failing. */
    lockTimeoutSeconds: 120,
    /**
     * The longest a colour is drained before it is stopped: it gets no new request, and is stopped
     * once the proxy reports no session on it, or after this many seconds. 30 s, as kamal-proxy and
     * Argo Rollouts drain: enough for ordinary slow requests and uploads; a response that runs
     * longer (a stream) is cut after it.
     */
    drainSeconds: 30,
    /** Seconds a stopped colour gets between SIGTERM and SIGKILL (docker stop -t); Docker's default. */
    stopTimeoutSeconds: 10,
} as const;

/** Inclusive bounds of the tool's numeric options; the stack config accepts the same. */
export const hostLimits = {
    port: { min: 1, max: 65535 },
    healthSuccesses: { min: 1, max: 100 },
    healthIntervalMs: { min: 1, max: 60000 },
    healthTimeoutSeconds: { min: 1, max: 3600 },
    keepReleases: { min: 1, max: 100 },
    /** An hour: a release still waiting after that is stuck, not busy. */
    lockTimeoutSeconds: { min: 0, max: 3600 },
    /** 0 stops a colour without waiting; an hour at most, as the lock wait. */
    drainSeconds: { min: 0, max: 3600 },
    stopTimeoutSeconds: { min: 0, max: 600 },
    /**
     * A canary step's share of new requests, in percent: at least 1, and below 100 (a canary at
     * 100 % leaves nothing to compare it with; passing every step promotes it to all requests).
     */
    canaryWeight: { min: 1, max: 99 },
    pids: { min: 16, max: 65536 },
    /** Docker's smallest memory limit, in megabytes. */
    memoryMinMegabytes: 6,
} as const;

/** bluegreen's exit codes: what went wrong, so a caller can tell a held lock from a bad image. */
export const hostExitCodes = {
    usage: 2,
    locked: 3,
    pull: 4,
    unhealthy: 5,
    smoke: 6,
    proxy: 7,
    deps: 8,
} as const;

/** bluegreen-gate's own exit codes: the command is not one the deploy key may run; the tool is not pinned. */
export const gateExitCodes = { refused: 11, unpinned: 12 } as const;
