import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { actionsSecretOptions } from "./actions-secret";

/** Arguments of a RepositorySecrets component. */
export interface RepositorySecretsArgs {
    /** Repository name, without the owner. */
    readonly repository: pulumi.Input<string>;
    /** Secret name to value; each value must be a secret Output. */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
}

/** Repository-level Actions secrets, readable by every workflow of the repository. */
export class RepositorySecrets extends pulumi.ComponentResource {
    /** The names of the secrets declared (never their values). */
    public readonly names: pulumi.Output<string[]>;

    constructor(name: string, args: RepositorySecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:repository:RepositorySecrets", name, {}, opts);
        const names = Object.keys(args.secrets).sort();
        for (const secretName of names) {
            new github.ActionsSecret(
                `${name}-${secretName.toLowerCase().replace(/_/g, "-")}`,
                { repository: args.repository, secretName, value: pulumi.secret(args.secrets[secretName]) },
                actionsSecretOptions(this),
            );
        }
        this.names = pulumi.output(names);
        this.registerOutputs({ names: this.names });
    }
}
