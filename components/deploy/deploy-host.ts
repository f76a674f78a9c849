import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import { fileDigest, HostTarget, installCommand, TOOL_PATH, TOOL_SOURCE } from "./release-plan";

/** Arguments of a DeployHost component. */
export interface DeployHostArgs {
    /** The host: name, address, SSH port and pinned host key ("<type> <base64>"). */
    readonly host: HostTarget;
    /** The deploy user on the host; it must be able to run docker. */
    readonly user: string;
    /** The deploy user's SSH private key; keep it a secret. */
    readonly privateKey: pulumi.Input<string>;
}

/**
 * One target host: installs the release tool (`bluegreen`) in the deploy user's home over SSH,
 * with the host key pinned. Re-installs only when the tool changes.
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
        const install = installCommand();
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
                stdin: tool,
                triggers: [fileDigest(TOOL_SOURCE), TOOL_PATH],
                addPreviousOutputInEnv: false,
            },
            { parent: this },
        );
        this.toolDigest = this.install.stdout.apply((s) => s.trim());
        this.registerOutputs({ toolDigest: this.toolDigest });
    }
}
