import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import { HostTarget, installCommand, TOOL_SOURCE, uninstallCommand } from "./host-commands";

/** Arguments of a DeployHost component. */
export interface DeployHostArgs {
    /** The host: name, address, SSH port and pinned host key ("<type> <base64>"). */
    readonly host: HostTarget;
    /** The deploy user on the host; it must be able to run docker. */
    readonly user: string;
    /** The deploy user's SSH private key; keep it a secret. */
    readonly privateKey: pulumi.Input<string>;
    /** The tool instance the stack releases to, removed from the host on delete. Default: app. */
    readonly instance?: string;
    /** Seconds the uninstall waits for a running release of the instance. Default: 120. */
    readonly lockTimeoutSeconds?: number;
    /** Seconds the uninstall drains each colour at most before stopping it. Default: 30. */
    readonly drainSeconds?: number;
    /** Seconds a colour gets after SIGTERM when the uninstall stops it. Default: 10. */
    readonly stopTimeoutSeconds?: number;
}

/**
 * One target host: installs the release tool (`bluegreen`) in the deploy user's home over SSH,
 * with the host key pinned, through the host's gate (the deploy key's forced command, set up once by
 * the host's admin with scripts/host-setup.sh), which accepts only a tool whose sha256 the admin
 * pinned. Re-installs only when the tool changes. Deleting it (`pulumi destroy`,
 * or the host leaving the stack) uninstalls the stack's instance from the host: its containers,
 * proxy, network, images and state, and the tool unless another instance still uses it.
 */
export class DeployHost extends pulumi.ComponentResource {
    /** sha256 of the tool installed on the host, as the host computed it. */
    public readonly toolDigest: pulumi.Output<string>;
    /** The install command, for dependsOn. */
    public readonly install: command.remote.Command;

    constructor(name: string, args: DeployHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:deploy:DeployHost", name, {}, opts);
        const { host } = args;
        const tool = fs.readFileSync(TOOL_SOURCE, "utf8");
        // The resource's name owns the instance on the host (see uninstallCommand).
        // Bad input fails as this component's error (pulumi names its URN).
        const checked = <T>(f: () => T): T => {
            try {
                return f();
            } catch (e) {
                throw new pulumi.ResourceError((e as Error).message, this);
            }
        };
        const install = checked(() => installCommand({ instance: args.instance, owner: name }));
        const uninstall = checked(() =>
            uninstallCommand({
                instance: args.instance,
                lockTimeoutSeconds: args.lockTimeoutSeconds,
                drainSeconds: args.drainSeconds,
                stopTimeoutSeconds: args.stopTimeoutSeconds,
                owner: name,
            }),
        );
        this.install = new command.remote.Command(
            `${name}-install`,
            {
                connection: {
                    host: host.address,
                    port: host.port,
                    user: args.user,
                    privateKey: pulumi.secret(args.privateKey),
                    // Pinned: a host presenting another key is refused, never trusted on first use.
                    hostKey: host.hostKey,
                    dialErrorLimit: 3,
                    perDialTimeout: 15,
                },
                create: install,
                update: install,
                delete: uninstall,
                // A new tool arrives by update (stdin changes). No triggers: a replacement would run
                // the old resource's delete, which uninstalls the app.
                stdin: tool,
                addPreviousOutputInEnv: false,
            },
            { parent: this },
        );
        this.toolDigest = this.install.stdout.apply((s) => (s ?? "").trim());
        this.registerOutputs({ toolDigest: this.toolDigest });
    }
}
