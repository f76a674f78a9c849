/**
 * The one table of secrets: for each secret config key, the GitHub Actions secret it becomes, where
 * it is declared, what it holds and how to set it. The config checks and the GitHub side
 * (components/credentials.ts: which stack declares which secret in which environment; the workflows;
 * the reachability table) all read it from here.
 *
 * Every secret is set with `pulumi config set --secret` and is never stored in plaintext in a
 * committed stack file. There are no repository secrets (see components/credentials.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "./types";

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
interface SecretSpec {
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

/** Secret values, each an Output marked secret. */
export type Secrets = { readonly [K in SecretConfigKey]?: pulumi.Output<string> };

/** The command that sets a secret; it prompts for the value, so the value stays out of shell history. */
export function setSecretCommand(stack: string, key: SecretConfigKey): string {
    const spec: SecretSpec = secretTable[key];
    return `pulumi config set --secret -s ${stack} ${key}` + (spec.fromFile ? ` < ${spec.fromFile}` : "");
}

/**
 * The GitHub provider's token key. Refused: a token stored in a stack reaches every job that can
 * decrypt the stack, and a personal access token every repository its owner can reach.
 */
export const githubTokenKey = "github:token";

/**
 * Reads the secrets from the raw config: each required one must be set, as a secret (unless the
 * table allows plaintext), in its format. Missing ones are not errors when `requireSecrets` is false.
 */
export function readSecrets(
    raw: RawConfig,
    required: ReadonlySet<SecretConfigKey>,
    requireSecrets: boolean,
): { secrets: Secrets; problems: string[] } {
    const problems: string[] = [];
    const secrets: Record<string, pulumi.Output<string>> = {};
    for (const key of secretConfigKeys) {
        const spec: SecretSpec = secretTable[key];
        const fullKey = `${raw.project}:${key}`;
        const value = raw.values[fullKey];
        const fix = setSecretCommand(raw.stack, key);
        if (value === undefined || value === "") {
            if (required.has(key) && requireSecrets) {
                problems.push(`${fullKey}: is required (${spec.description}). Fix: ${fix}`);
            }
            continue;
        }
        if (!raw.secretKeys.has(fullKey) && !spec.plaintextAllowed) {
            problems.push(
                `${fullKey}: is stored in plaintext but must be a secret. Fix: pulumi config rm -s ${raw.stack} ${key} && ${fix}`,
            );
            continue;
        }
        if (spec.format && !spec.format.pattern.test(value)) {
            problems.push(`${fullKey}: ${spec.format.problem}. Fix: ${fix}`);
            continue;
        }
        secrets[key] = pulumi.secret(value);
    }
    const token = raw.values[githubTokenKey];
    if (token !== undefined && token !== "") {
        problems.push(
            `${githubTokenKey}: a GitHub token in the stack config is refused: whoever can decrypt the stack (every job holding ` +
                `its passphrase) could use it, and a personal access token reaches every repository of its owner. ` +
                `Fix: pulumi config rm -s ${raw.stack} ${githubTokenKey}; run pulumi up with your own token instead: ` +
                `GITHUB_TOKEN=$(gh auth token) pulumi up -s ${raw.stack} (the workflows mint short-lived GitHub App tokens)`,
        );
    }
    return { secrets, problems };
}
