/**
 * The parse entry point: the stack's whole configuration, validated once when the program starts
 * and turned into one typed object. Components never read config; index.ts passes them the parts
 * they need.
 *
 * Every error names the key (as written in Pulumi.<stack>.yaml), what is wrong, and the fix. The
 * checks run in three steps: each section's schema (config/<section>.ts), the secrets
 * (config/secrets.ts), then the cross-field rules (config/rules.ts); all problems are reported at once.
 */
import * as pulumi from "@pulumi/pulumi";
import { deploySecretKeys, requiredSecretKeys } from "../components/credentials";
import { planFeatures } from "../components/repository/github-plan";
import { crossFieldProblems } from "./rules";
import { configSchema, objectKeys, retiredKeys } from "./schema";
import { readSecrets, SecretConfigKey, secretTable } from "./secrets";
import { committedStacks } from "./stack-file";
import { ConfigError, ParseOptions, PipelineConfig, RawConfig } from "./types";

function keyPath(project: string, path: readonly PropertyKey[]): string {
    let s = `${project}:${String(path[0])}`;
    for (const p of path.slice(1)) s += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
    return s;
}

/**
 * Validates raw config and builds the typed object. Pure apart from wrapping secrets as Outputs,
 * so tests can feed it any configuration.
 */
export function parseConfig(raw: RawConfig, options: ParseOptions = {}): PipelineConfig {
    const problems: string[] = [];
    const prefix = `${raw.project}:`;
    const known = new Set<string>([...Object.keys(configSchema.shape), ...Object.keys(secretTable)]);

    const input: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(raw.values)) {
        if (!fullKey.startsWith(prefix)) continue; // provider config such as github:token
        const key = fullKey.slice(prefix.length);
        if (key in retiredKeys) {
            problems.push(
                `${fullKey}: is no longer used: ${retiredKeys[key]}. Fix: pulumi config rm -s ${raw.stack} ${key}`,
            );
            continue;
        }
        if (!known.has(key)) {
            problems.push(
                `${fullKey}: unknown key. Known keys: ${[...known].sort().join(", ")}. Fix: pulumi config rm -s ${raw.stack} ${key}`,
            );
            continue;
        }
        if (key in secretTable) continue;
        if (key in objectKeys) {
            try {
                input[key] = JSON.parse(value);
            } catch {
                problems.push(
                    `${fullKey}: must be an object (a YAML mapping under the key), got ${JSON.stringify(value)}`,
                );
            }
        } else if (value !== "") {
            input[key] = value;
        }
        if (raw.secretKeys.has(fullKey)) {
            problems.push(
                `${fullKey}: is stored as a secret but is not one; store it in plaintext with pulumi config set`,
            );
        }
    }

    const result = configSchema.safeParse(input);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const k of issue.keys) {
                    problems.push(
                        `${keyPath(raw.project, [...issue.path, k])}: unknown key; remove it or check its spelling`,
                    );
                }
            } else if (issue.code === "invalid_type" && issue.input === undefined) {
                problems.push(
                    `${keyPath(raw.project, issue.path)}: is required; set it in Pulumi.${raw.stack}.yaml`,
                );
            } else {
                problems.push(`${keyPath(raw.project, issue.path)}: ${issue.message}`);
            }
        }
    }

    const parsed = result.success ? result.data : undefined;
    // Read from the raw input too, so secret problems are reported alongside schema problems.
    const github = (parsed?.github ?? input.github) as { repositoryObjectsStack?: unknown } | undefined;
    const owns = github?.repositoryObjectsStack === raw.stack;
    const githubSettings = parsed?.github && {
        ...parsed.github,
        ownsRepositoryObjects: owns,
        features: planFeatures(parsed.github.plan, parsed.github.visibility),
    };
    const config = (secrets: PipelineConfig["secrets"], release: PipelineConfig["release"]) =>
        parsed && {
            project: raw.project,
            stack: raw.stack,
            github: githubSettings,
            environment: parsed.environment,
            deploy: parsed.deploy,
            workflows: parsed.workflows,
            githubApp: parsed.githubApp,
            backend: parsed.backend,
            release,
            releaseOnly: parsed.releaseOnly,
            secrets,
        };
    // Which secrets this stack needs depends on what it declares (components/credentials.ts).
    const provisional = config({}, {});
    const required: Set<SecretConfigKey> = provisional
        ? requiredSecretKeys(provisional)
        : // The schema failed: still report the secrets any stack of this shape needs.
          new Set<SecretConfigKey>(github ? deploySecretKeys : input.deploy ? ["deploySshKey"] : []);

    const secrets = readSecrets(raw, required, options.requireSecrets !== false);
    problems.push(...secrets.problems);
    problems.push(...crossFieldProblems({ raw, options, parsed, input, owns, requiredSecrets: required }));

    const final = config(secrets.secrets, { version: parsed?.version, digest: parsed?.digest });
    if (problems.length > 0 || !final) throw new ConfigError(raw.stack, problems);
    return final;
}

/** The Pulumi runtime's view of which config keys hold secrets (not in the SDK's public typings). */
function configSecretKeys(values: Readonly<Record<string, string>>): Set<string> {
    const runtime = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };
    return new Set(Object.keys(values).filter((k) => runtime.isConfigSecret(k)));
}

/** Reads and validates the running stack's configuration. */
export function loadConfig(): PipelineConfig {
    const values = pulumi.runtime.allConfig();
    return parseConfig(
        {
            project: pulumi.getProject(),
            stack: pulumi.getStack(),
            values,
            secretKeys: configSecretKeys(values),
        },
        { knownStacks: committedStacks(process.cwd()) },
    );
}
