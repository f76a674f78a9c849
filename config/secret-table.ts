/**
 * The one table of secrets: for each secret config key, the GitHub Actions secret it becomes, where
 * it is declared, what it holds and how to set it. The config checks and the GitHub side
 * (components/credentials.ts: which stack declares which secret in which environment; the workflows;
 * the reachability table) all read it from here.
 *
 * Every secret is set with `pulumi config set --secret` and is never stored in plaintext in a
 * committed stack file. There are no repository secrets (see components/credentials.ts).
 */

/**
 * Where a secret is declared (components/credentials.ts):
 * - deploy: by every deploy stack, in its own environment: its deploy jobs' credentials;
 * - deploy and preview: the same, and by the staging stack in the preview environment as well
 *   (what `pulumi preview -s staging` of a pull request needs);
 * - production preview: by the production stack in its own environment: its deploy job previews
 *   the whole stack with a read-only GitHub App token;
 * - notifications: by the stack that owns the repository-wide objects, in the notifications
 *   environment, when workflows.slack is on.
 */
export type SecretScope = "deploy" | "deploy and preview" | "production preview" | "notifications";

/** One row of the table. */
export interface SecretSpec {
    /** The GitHub Actions secret's name. */
    readonly githubName: string;
    readonly scope: SecretScope;
    /** What the value is (the "is required (...)" error quotes it). */
    readonly description: string;
    /** A file the value is read from: `pulumi config set --secret ... < FILE`; absent: typed at the prompt. */
    readonly fromFile?: string;
    /** What the value must look like, and what the error says otherwise. */
    readonly format?: { readonly pattern: RegExp; readonly problem: string };
    /** Not secret in itself: may be stored in plaintext (it is still declared as a secret). */
    readonly plaintextAllowed?: boolean;
}

const privateKey = {
    pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    problem: "is not a private key (expected a -----BEGIN ... PRIVATE KEY----- block)",
} as const;

/** The secrets, in the order each stack declares them. */
export const secretTable = {
    pulumiAccessToken: {
        githubName: "PULUMI_ACCESS_TOKEN",
        scope: "deploy and preview",
        description:
            "the Pulumi Cloud access token this stack's workflow jobs log in with (scope it to this stack)",
    },
    pulumiConfigPassphrase: {
        githubName: "PULUMI_CONFIG_PASSPHRASE",
        scope: "deploy and preview",
        description: "the passphrase that encrypts this stack's secrets; each stack has its own",
    },
    dockerUsername: {
        githubName: "DOCKER_USERNAME",
        scope: "deploy",
        description: "the registry user name the stack's CD jobs push with",
        plaintextAllowed: true,
    },
    dockerPassword: {
        githubName: "DOCKER_PASSWORD",
        scope: "deploy",
        description: "the registry password or access token the stack's CD jobs push with",
    },
    deploySshKey: {
        githubName: "DEPLOY_SSH_KEY",
        scope: "deploy",
        description: "the deploy user's SSH private key (PEM or OpenSSH format)",
        fromFile: "~/.ssh/deploy_ed25519",
        format: privateKey,
    },
    githubAppPrivateKey: {
        githubName: "PIPELINE_APP_PRIVATE_KEY",
        scope: "production preview",
        description:
            "the private key (PEM) of the GitHub App whose read-only tokens the production deploy job previews with",
        fromFile: "~/Downloads/<app>.private-key.pem",
        format: privateKey,
    },
    slackWebhook: {
        githubName: "SLACK_WEBHOOK",
        scope: "notifications",
        description: "the Slack incoming-webhook URL",
        format: {
            pattern: /^https:\/\/hooks\.slack\.com\/[A-Za-z0-9/_-]+$/,
            problem: "must be a Slack incoming-webhook URL (https://hooks.slack.com/...)",
        },
    },
} as const satisfies Record<string, SecretSpec>;

/** Secret config keys, each set with `pulumi config set --secret`. */
export type SecretConfigKey = keyof typeof secretTable;

export const secretConfigKeys = Object.keys(secretTable) as SecretConfigKey[];

/** GitHub secret names, by config key. */
export const secretNames = Object.fromEntries(
    secretConfigKeys.map((k) => [k, secretTable[k].githubName]),
) as { readonly [K in SecretConfigKey]: (typeof secretTable)[K]["githubName"] };

/** The secret keys of a scope, in the table's order. */
export function secretsOfScope(...scopes: SecretScope[]): SecretConfigKey[] {
    return secretConfigKeys.filter((k) => scopes.includes(secretTable[k].scope));
}
