/** The deploy section: the hosts, the image, ports, limits, health checks and the release's pace. */
import { z } from "zod";
import { BATCH_SIZE_MAX, PIDS_MAX, PIDS_MIN } from "../components/deploy/host-commands";
import { hostDefaults, hostLimits } from "../components/deploy/host-facts";
import { canarySettingsSchema } from "../components/deploy/orchestrator/canary-settings";
import { hostPatterns } from "./patterns";

const {
    image: imageRepository,
    hostAddress,
    user: unixUser,
    hostKey,
    hostName: resourceName,
    urlPath,
    proxyImage,
    instance,
    address: bindAddress,
    memory,
} = hostPatterns;

/**
 * The proxy image every host runs unless deploy.proxyImage names another: the official HAProxy 2.6
 * image (2.6.34), pinned by the digest of its multi-platform index, so that whoever can push to
 * the haproxy repository cannot change what runs in front of the app. The digest is the one
 * docker-library/repo-info records for haproxy:2.6 (repos/haproxy/remote/2.6.md). To move to a
 * newer build: docker buildx imagetools inspect haproxy:2.6, and take its "Digest:".
 */
export const DEFAULT_PROXY_IMAGE =
    "haproxy:2.6@sha256:27d5ea8c22a63b2f072974b3d15e34816ee7f19fa68d13e37ec1d69e2a5df8d1";
/**
 * The loopback port where each host's proxy serves its metrics in Prometheus format unless
 * deploy.metricsPort says otherwise (8405, the port HAProxy's documentation uses for its exporter).
 */
export const DEFAULT_METRICS_PORT = 8405;
/** Limits of each app container unless deploy.limits says otherwise. */
export const DEFAULT_LIMITS = { memory: "512m", pids: 512 } as const;

const port = z.number().int().min(hostLimits.port.min).max(hostLimits.port.max);

/** A whole number of seconds within bounds, with errors that say the bounds and what 0 means. */
function wholeSeconds(bounds: { min: number; max: number }, zero: string) {
    const error = `must be a whole number of seconds from ${bounds.min} to ${bounds.max} (${zero})`;
    return z.number({ error }).int({ error }).min(bounds.min, { error }).max(bounds.max, { error });
}
const positive = z.number().int().min(1);

const hostSchema = z.strictObject({
    name: z.string().regex(resourceName, { error: "must be a short lowercase name such as web-1" }),
    address: z
        .string()
        .regex(hostAddress, { error: "must be a host name or IP address, such as web-1.example.com" }),
    port: port.default(22),
    hostKey: z
        .string()
        // The command provider pins a host key by offering only the key's own type as host key
        // algorithm (pulumi-command 1.2.1, provider/pkg/provider/remote/connection.go, SSHConfig:
        // HostKeyAlgorithms = []string{publicKey.Type()}); for an RSA key that is "ssh-rsa", SHA-1
        // signatures, which OpenSSH 8.8 and later refuse: the connection would always fail.
        .refine((k) => !k.startsWith("ssh-rsa "), {
            error: 'an ssh-rsa host key cannot be pinned (the command provider then asks for SHA-1 signatures, which OpenSSH 8.8+ refuses): pin the host\'s ed25519 or ECDSA key, e.g. the output of: ssh-keyscan -t ed25519 HOST | cut -d" " -f2-',
            abort: true,
        })
        .regex(hostKey, {
            error: 'must be the host\'s public key as "<type> <base64>", e.g. the output of: ssh-keyscan -t ed25519 HOST | cut -d" " -f2-',
        }),
});

export const deploySchema = z
    .strictObject({
        user: z.string().regex(unixUser, { error: "must be a Unix user name such as deploy" }),
        hosts: z.array(hostSchema).min(1, { error: "must list at least one host" }),
        image: z.string().regex(imageRepository, {
            error: "must be an image repository without tag, such as registry.example.com/acme/web-app",
        }),
        resolveDigest: z.boolean().default(true),
        publicPort: port.default(hostDefaults.publicPort),
        appPort: port.default(hostDefaults.appPort),
        bluePort: port.default(hostDefaults.bluePort),
        greenPort: port.default(hostDefaults.greenPort),
        proxyImage: z
            .string()
            .regex(proxyImage, {
                error: `must be an image reference pinned by digest, such as ${DEFAULT_PROXY_IMAGE}`,
            })
            .default(DEFAULT_PROXY_IMAGE),
        /** Accept a proxyImage without @sha256: digest (its tag can be moved under the hosts). */
        allowUnpinnedProxyImage: z
            .boolean({ error: "must be true or false: whether proxyImage may be a tag without a digest" })
            .default(false),
        /** Limits of each app container. */
        limits: z
            .strictObject({
                memory: z
                    .string()
                    .regex(memory, { error: "must be a size in megabytes or gigabytes, such as 512m or 2g" })
                    .refine((m) => !m.endsWith("m") || Number(m.slice(0, -1)) >= 6, {
                        error: "must be at least 6m (Docker's minimum)",
                    })
                    .default(DEFAULT_LIMITS.memory),
                pids: z
                    .number({ error: `must be a whole number of processes, ${PIDS_MIN} to ${PIDS_MAX}` })
                    .int({ error: `must be a whole number of processes, ${PIDS_MIN} to ${PIDS_MAX}` })
                    .min(PIDS_MIN, { error: `must be at least ${PIDS_MIN}` })
                    .max(PIDS_MAX, { error: `must be at most ${PIDS_MAX}` })
                    .default(DEFAULT_LIMITS.pids),
            })
            .prefault({}),
        health: z
            .strictObject({
                path: z
                    .string()
                    .regex(urlPath, { error: "must be a URL path such as /health" })
                    .default(hostDefaults.health.path),
                successes: positive
                    .max(hostLimits.healthSuccesses.max)
                    .default(hostDefaults.health.successes),
                intervalMs: positive
                    .max(hostLimits.healthIntervalMs.max)
                    .default(hostDefaults.health.intervalMs),
                timeoutSeconds: positive
                    .max(hostLimits.healthTimeoutSeconds.max)
                    .default(hostDefaults.health.timeoutSeconds),
            })
            .prefault({}),
        smokePaths: z
            .array(z.string().regex(urlPath, { error: "must be a URL path such as /version" }))
            .default(["/health"]),
        batchSize: positive.max(BATCH_SIZE_MAX).default(1),
        /** Names this stack's app on its hosts, so several stacks can share a host. */
        instance: z
            .string()
            .regex(instance, { error: "must be lowercase letters, digits, _ or -, such as app" })
            .optional(),
        /** The address the proxy listens on; all addresses when unset. */
        bind: z.string().regex(bindAddress, { error: "must be an IP address such as 127.0.0.1" }).optional(),
        keepReleases: positive.max(hostLimits.keepReleases.max).default(hostDefaults.keepReleases),
        /** Seconds a release waits for another release's lock on a host before failing. */
        lockTimeoutSeconds: z
            .number({ error: "must be a whole number of seconds, 0 to fail at once" })
            .int({ error: "must be a whole number of seconds, 0 to fail at once" })
            .min(hostLimits.lockTimeoutSeconds.min, { error: "must be 0 or more seconds" })
            .max(hostLimits.lockTimeoutSeconds.max, {
                error: `must be at most ${hostLimits.lockTimeoutSeconds.max} seconds`,
            })
            .default(hostDefaults.lockTimeoutSeconds),
        /**
         * Seconds a colour is drained at most before it is stopped (replaced by a release, removed
         * by a failed one or by uninstall): it gets no new request, and is stopped as soon as the
         * proxy reports no session on it.
         */
        drainSeconds: wholeSeconds(
            hostLimits.drainSeconds,
            "0 stops a colour without waiting for its requests",
        ).default(hostDefaults.drainSeconds),
        /** Seconds a stopped colour gets between SIGTERM and SIGKILL to finish gracefully. */
        stopTimeoutSeconds: wholeSeconds(
            hostLimits.stopTimeoutSeconds,
            "0 kills a colour at once after SIGTERM",
        ).default(hostDefaults.stopTimeoutSeconds),
        /** The proxy's Prometheus metrics on 127.0.0.1:metricsPort/metrics; false: none. */
        metricsPort: z
            .union([port, z.literal(false)], {
                error: `must be a port number (the proxy's metrics on 127.0.0.1), or false for none`,
            })
            .default(DEFAULT_METRICS_PORT)
            .transform((p) => (p === false ? undefined : p)),
        /** blue-green: switch every request at once; canary: step by step, judged (deploy.canary). */
        strategy: z
            .enum(["blue-green", "canary"], { error: 'must be "blue-green" or "canary"' })
            .default("blue-green"),
        /** The canary's steps and thresholds (strategy: canary); defaults in canary-settings.ts. */
        canary: canarySettingsSchema.optional(),
    })
    .transform((d) => ({
        ...d,
        canary: d.canary ?? (d.strategy === "canary" ? canarySettingsSchema.parse({}) : undefined),
    }))
    .refine((d) => d.canary === undefined || d.strategy === "canary", {
        error: 'is set, but deploy.strategy is "blue-green", which does not use it. Fix: set deploy.strategy: canary, or remove deploy.canary',
        path: ["canary"],
    })
    .refine((d) => new Set(d.hosts.map((h) => h.name)).size === d.hosts.length, {
        error: "host names must be unique",
        path: ["hosts"],
    })
    .refine((d) => new Set(d.hosts.map((h) => `${h.address}:${h.port}`)).size === d.hosts.length, {
        error: "lists one host (address and port) twice; each host is released once",
        path: ["hosts"],
    })
    .refine((d) => new Set([d.publicPort, d.bluePort, d.greenPort]).size === 3, {
        error: "publicPort, bluePort and greenPort must be three different ports",
        path: ["publicPort"],
    })
    .refine(
        (d) =>
            d.metricsPort === undefined || ![d.publicPort, d.bluePort, d.greenPort].includes(d.metricsPort),
        {
            error: "must differ from publicPort, bluePort and greenPort (or be false for no metrics)",
            path: ["metricsPort"],
        },
    )
    .refine((d) => d.allowUnpinnedProxyImage || proxyImagePinned(d.proxyImage), {
        error:
            "is not pinned by digest: whoever can move its tag changes what runs in front of the app. " +
            "Fix: append its digest (docker buildx imagetools inspect IMAGE, the Digest: line), as in " +
            `${DEFAULT_PROXY_IMAGE}, or set deploy.allowUnpinnedProxyImage: true`,
        path: ["proxyImage"],
    });

/** Whether a proxy image reference names its digest. */
export function proxyImagePinned(reference: string): boolean {
    return /@sha256:[a-f0-9]{64}$/.test(reference);
}
