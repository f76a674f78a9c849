import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DeployHost } from "./deploy-host";
import {
    checkDigest,
    HostReleaseSettings,
    HostTarget,
    KEY_VARIABLE,
    orchestratorArgs,
    orchestratorCommand,
} from "./host-commands";
import type { CanarySettings } from "./orchestrator/canary-settings";
import { orchestratorScript } from "./orchestrator/script";
import { parseSummary, ReleaseSummary } from "./orchestrator/summary";
import { resolveDigest } from "./registry";

/** Arguments of a BlueGreenDeployment component. */
export interface BlueGreenDeploymentArgs {
    /** The stack's hosts, in release order. */
    readonly hosts: readonly HostTarget[];
    /** The deploy user on every host. */
    readonly user: string;
    /** The deploy user's SSH private key; keep it a secret. */
    readonly privateKey: pulumi.Input<string>;
    /** Image repository without tag, such as registry.example.com/acme/web-app. */
    readonly image: string;
    /** The version (image tag) to serve. */
    readonly version: string;
    /**
     * The digest of image:version, such as the CD workflow built and pushed. When given it is
     * released as it is: the registry is not asked again, so a tag moved since cannot change it.
     */
    readonly digest?: pulumi.Input<string>;
    /** Whether to look up image:version's digest in the registry when no digest is given. Default: true. */
    readonly resolveDigest?: boolean;
    /** How a digest is looked up. Default: the registry's HTTP API (registry.ts, resolveDigest). */
    readonly resolver?: (image: string, tag: string) => Promise<string>;
    /** How each host runs the app: ports, proxy image, health gate, smoke paths, lock wait. */
    readonly settings: HostReleaseSettings;
    /** Hosts released at once; a batch starts when the previous one succeeded. Default: 1. */
    readonly batchSize?: number;
    /**
     * Release as a canary, judged from the proxies' counters, with these steps and thresholds
     * (orchestrator/canary.ts); every host moves through the steps together. Default: none (blue-green).
     */
    readonly canary?: CanarySettings;
}

/**
 * Blue-green releases of one image version on a stack's hosts. Each host gets the release tool
 * (a DeployHost); one orchestrating command then releases the hosts batch by batch over SSH and,
 * if a host fails, switches the hosts it already released back, so every host ends on the same
 * version, and the update fails with the host's error. The command runs only when what it would
 * release changes: an unchanged image digest and settings mean no command at all.
 */
export class BlueGreenDeployment extends pulumi.ComponentResource {
    /** The version released. */
    public readonly version: pulumi.Output<string>;
    /** The image digest released (immutable; what the hosts run). */
    public readonly digest: pulumi.Output<string>;
    /** Version each host serves, by host name, as the hosts reported after the release. */
    public readonly liveVersions: pulumi.Output<Record<string, string>>;
    /** Colour (blue or green) each host serves from, by host name, as the hosts reported it. */
    public readonly liveColours: pulumi.Output<Record<string, string>>;
    /** The per-host components. */
    public readonly hosts: DeployHost[];

    constructor(name: string, args: BlueGreenDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:deploy:BlueGreenDeployment", name, {}, opts);
        const resolve = args.resolveDigest ?? true;
        const reference = `${args.image}:${args.version}`;

        // Errors name this component: pulumi reports them with its URN, not as a crash of the program.
        const failure = (e: unknown) =>
            new pulumi.ResourceError(e instanceof Error ? e.message : String(e), this);
        const guard =
            <A, R>(f: (a: A) => R) =>
            (a: A): R => {
                try {
                    return f(a);
                } catch (e) {
                    throw failure(e);
                }
            };

        // Validated now (fails on bad input), then again once the digest is known.
        const batchSize = args.batchSize ?? 1;
        const plan = guard((d: string) =>
            orchestratorArgs({ image: args.image, version: args.version, digest: d }, args.settings, {
                user: args.user,
                hosts: args.hosts,
                batchSize,
                ...(args.canary && { canary: args.canary }),
            }),
        );
        plan(`sha256:${"0".repeat(64)}`);

        let digest: pulumi.Output<string>;
        if (args.digest !== undefined) {
            digest = pulumi.output(args.digest).apply(guard(checkDigest));
        } else if (resolve) {
            const resolver = args.resolver ?? ((image: string, tag: string) => resolveDigest(image, tag));
            digest = pulumi.output(
                resolver(args.image, args.version).then(guard(checkDigest), (e) => {
                    throw failure(e);
                }),
            );
        } else {
            throw failure(`no digest for ${reference}: give one, or set resolveDigest`);
        }

        const line = digest.apply((d) => orchestratorCommand(plan(d)));

        this.hosts = args.hosts.map(
            (host) =>
                new DeployHost(
                    // Named by where the host is, not by its label: renaming a host in config must
                    // not read as a new host plus a removed one, whose uninstall would take the app
                    // off the very machine just released to.
                    // (":" of an IPv6 address is replaced: "::" separates a URN's parts.)
                    `${name}-${host.address.replace(/:/g, "_")}-${host.port}`,
                    {
                        host,
                        user: args.user,
                        privateKey: args.privateKey,
                        instance: args.settings.instance,
                        lockTimeoutSeconds: args.settings.lockTimeoutSeconds,
                        drainSeconds: args.settings.drainSeconds,
                        stopTimeoutSeconds: args.settings.stopTimeoutSeconds,
                    },
                    { parent: this },
                ),
        );

        const release = new command.local.Command(
            `${name}-release`,
            {
                create: line,
                update: line,
                // The orchestrator as one JavaScript text for `node -` (orchestrator/script.ts says
                // why it runs this way); the key only in the secret environment.
                stdin: orchestratorScript(),
                environment: { [KEY_VARIABLE]: pulumi.secret(args.privateKey) },
                triggers: [args.image, args.version, digest],
                addPreviousOutputInEnv: false,
                // No delete: every new version replaces this command, and a replacement runs the old
                // one's delete. Removing the app from a host is each DeployHost's delete.
            },
            { parent: this, dependsOn: this.hosts.map((h) => h.install) },
        );

        // What the hosts reported after the release, not what config asked for: when a release fails,
        // these fail with it, and the stack keeps the outputs of the last release that succeeded.
        // The summary holds versions and digests only, so it is not secret. (The command provider
        // never marks stdout secret, though the environment holds the key: the orchestrator prints no
        // key. unsecret keeps the outputs plain should a provider mark it.) A command that ran always has stdout, and one
        // without a summary fails here; only where nothing ran (mocks) is there no stdout at all,
        // and then the requested version and digest stand in.
        const summary = pulumi
            .unsecret(release.stdout)
            .apply(
                guard((out: string | undefined): ReleaseSummary | undefined =>
                    out === undefined ? undefined : parseSummary(out),
                ),
            );
        this.version = summary.apply((s) => s?.version ?? args.version);
        this.digest = pulumi.all([summary, digest]).apply(([s, d]) => s?.digest ?? d);
        this.liveVersions = summary.apply((s) =>
            Object.fromEntries(Object.entries(s?.hosts ?? {}).map(([host, h]) => [host, h.version])),
        );
        this.liveColours = summary.apply((s) =>
            Object.fromEntries(
                Object.entries(s?.hosts ?? {}).flatMap(([host, h]) => (h.colour ? [[host, h.colour]] : [])),
            ),
        );
        this.registerOutputs({
            version: this.version,
            digest: this.digest,
            liveVersions: this.liveVersions,
            liveColours: this.liveColours,
        });
    }
}

/** The per-host release settings from the stack's deploy config. */
export function hostReleaseSettings(
    deploy: Omit<HostReleaseSettings, "instance" | "bind"> & {
        readonly instance?: string;
        readonly bind?: string;
    },
): HostReleaseSettings {
    const { publicPort, appPort, bluePort, greenPort, proxyImage, health, smokePaths } = deploy;
    const { keepReleases, lockTimeoutSeconds, limits, instance, bind } = deploy;
    const { drainSeconds, stopTimeoutSeconds, metricsPort } = deploy;
    return {
        publicPort,
        appPort,
        bluePort,
        greenPort,
        proxyImage,
        health,
        smokePaths,
        keepReleases,
        lockTimeoutSeconds,
        ...(drainSeconds !== undefined && { drainSeconds }),
        ...(stopTimeoutSeconds !== undefined && { stopTimeoutSeconds }),
        ...(metricsPort !== undefined && { metricsPort }),
        limits: { memory: limits.memory, pids: limits.pids },
        ...(instance !== undefined && { instance }),
        ...(bind !== undefined && { bind }),
    };
}
