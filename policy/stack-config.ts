/**
 * The stack's configuration as the engine hands it to the policy pack: the language host starts the
 * pack with the stack's config in PULUMI_CONFIG (secrets decrypted), as it does for the program.
 * The pack reads only what its policies need: the repository's plan and visibility, the main
 * branch's name, and the values of the secret config keys (to find them where they must not be).
 */
import { planFeatures, githubPlans, repositoryVisibilities } from "../components/repository/github-plan";
import { secretConfigKeys, secretTable } from "../config/secret-table";

/** What the policies need to know about the stack. */
export interface PolicyStackConfig {
    /** The main branch's name (github.branches.main; default main). */
    readonly mainBranch: string;
    /**
     * Whether the stack declares a GitHub plan and visibility that offer no required reviewers on
     * environments (github.plan, github.visibility): the reviewer policy is then advisory.
     */
    readonly planLimitsReviewers: boolean;
    /** The plan and visibility the stack declares, as the message quotes them. */
    readonly plan?: string;
    readonly visibility?: string;
    /** The secret config values that must never be a plain input, by their config key. */
    readonly secretValues: ReadonlyMap<string, string>;
}

/** Secret values shorter than this are not searched for: too short to tell from other text. */
export const MIN_SECRET_LENGTH = 8;

/** The project's config namespace (Pulumi.yaml's name). */
export const PROJECT = "cicd-pipeline";

/**
 * A config value as PULUMI_CONFIG carries it: a string (objects are JSON text), or an object,
 * or a secret wrapper that carries the value ({"4dabf18193072939515e22adb298388d": ..., value}).
 */
function plain(value: unknown): unknown {
    if (typeof value === "object" && value !== null && "value" in value) {
        return plain((value as { value: unknown }).value);
    }
    return value;
}

function parsed(value: unknown): unknown {
    const v = plain(value);
    if (typeof v !== "string") return v;
    try {
        return JSON.parse(v);
    } catch {
        return v;
    }
}

/** Reads the policies' view of the stack from a config map (key "project:name" to value). */
export function policyStackConfig(values: Readonly<Record<string, unknown>>): PolicyStackConfig {
    const github = parsed(values[`${PROJECT}:github`]);
    const gh =
        typeof github === "object" && github !== null ? (github as Record<string, unknown>) : undefined;
    const branches = gh?.branches as Record<string, unknown> | undefined;
    const mainBranch = typeof branches?.main === "string" ? branches.main : "main";
    const plan = githubPlans.find((p) => p === gh?.plan);
    const visibility = repositoryVisibilities.find((v) => v === gh?.visibility);
    // The defaults of config/github.ts: public on free, which offers reviewers.
    const features = planFeatures(plan ?? "free", visibility ?? "public");
    const secretValues = new Map<string, string>();
    for (const key of secretConfigKeys) {
        if ("plaintextAllowed" in secretTable[key]) continue;
        const value = plain(values[`${PROJECT}:${key}`]);
        if (typeof value === "string" && value.trim().length >= MIN_SECRET_LENGTH) {
            secretValues.set(`${PROJECT}:${key}`, value.trim());
        }
    }
    return {
        mainBranch,
        planLimitsReviewers: gh !== undefined && !features.environmentProtection,
        ...(plan !== undefined && { plan }),
        ...(visibility !== undefined && { visibility }),
        secretValues,
    };
}

/** The stack's config from the environment the pack runs in (empty when there is none). */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
    const text = env.PULUMI_CONFIG;
    if (!text) return {};
    try {
        const json: unknown = JSON.parse(text);
        return typeof json === "object" && json !== null ? (json as Record<string, unknown>) : {};
    } catch {
        return {};
    }
}
