/**
 * The cross-field rules: what no single section's schema can check, because it relates keys to each
 * other, to the stack, or to what the GitHub plan offers. Each rule names the key it reports; its
 * problem is reported as "<project>:<key>: <problem>", with the fix in it. The rules within one
 * section (distinct ports, unique hosts, a pinned proxy image) are in that section's schema.
 */
import { planFeatures } from "../components/repository/github-plan";
import type { ParsedConfig } from "./schema";
import { SecretConfigKey, setSecretCommand } from "./secrets";
import type { ParseOptions, RawConfig } from "./types";

/** What a rule sees. */
interface RuleContext {
    readonly raw: RawConfig;
    readonly options: ParseOptions;
    /** The schema's result; absent when the schema failed. */
    readonly parsed?: ParsedConfig;
    /** The config as given (objects parsed from JSON), for rules that report even when the schema failed. */
    readonly input: Readonly<Record<string, unknown>>;
    /** Whether this stack declares the repository-wide objects. */
    readonly owns: boolean;
    /** The secrets this stack needs (components/credentials.ts). */
    readonly requiredSecrets: ReadonlySet<SecretConfigKey>;
}

export interface CrossFieldRule {
    readonly name: string;
    /** What the rule checks. */
    readonly checks: string;
    /** The key it reports, without the project prefix. */
    readonly key: string;
    /** What the user does to satisfy it. */
    readonly fix: string;
    /** The problem (after "<project>:<key>: "), or undefined when the rule holds. */
    readonly problem: (c: RuleContext) => string | undefined;
}

const requireSecrets = (c: RuleContext) => c.options.requireSecrets !== false;

type Plan = NonNullable<ReturnType<typeof plan>>;

/** The plan's features and the environment's reviewer count, when the schema passed with a github section. */
function plan(c: RuleContext) {
    const gh = c.parsed?.github;
    if (!gh || !c.parsed) return undefined;
    const env = c.parsed.environment;
    return {
        gh,
        env,
        features: planFeatures(gh.plan, gh.visibility),
        reviewers: env.reviewers.users.length + env.reviewers.teams.length,
    };
}

/** A rule on what the plan offers: `message` when the schema passed with a github section and `broken` holds. */
function planRule(broken: (p: Plan) => boolean, message: (p: Plan) => string): CrossFieldRule["problem"] {
    return (c) => {
        const p = plan(c);
        return p && broken(p) ? message(p) : undefined;
    };
}

const internalOutsideEnterprise = (p: Plan) => p.gh.visibility === "internal" && p.gh.plan !== "enterprise";

/** Why a plan refuses environment protection rules. */
const noProtection = (gh: { plan: string; visibility: string }) =>
    `GitHub ${gh.plan} offers no required reviewers or wait timers on environments of ${gh.visibility} repositories (GitHub answers 422)`;

export const crossFieldRules: readonly CrossFieldRule[] = [
    {
        name: "repository objects belong to a committed stack",
        checks: "github.repositoryObjectsStack names a stack with a committed Pulumi.<stack>.yaml",
        key: "github.repositoryObjectsStack",
        fix: "name one of the committed stacks",
        problem: ({ parsed, input, options }) => {
            const owner = (
                (parsed?.github ?? input.github) as { repositoryObjectsStack?: unknown } | undefined
            )?.repositoryObjectsStack;
            if (typeof owner !== "string" || !options.knownStacks || options.knownStacks.includes(owner)) {
                return undefined;
            }
            return (
                `names "${owner}", which has no Pulumi.${owner}.yaml; ` +
                `no stack would declare branch protection, repository secrets or workflow files. Known stacks: ${options.knownStacks.join(", ")}`
            );
        },
    },
    {
        name: "environment named after the stack",
        checks: "environment.name equals the stack's name: the workflows deploy each stack through its namesake environment",
        key: "environment.name",
        fix: "set environment.name to the stack's name",
        problem: ({ parsed, input, raw }) => {
            const name = (parsed?.environment ?? (input.environment as { name?: unknown } | undefined))?.name;
            if (typeof name !== "string" || name === raw.stack) return undefined;
            return (
                `is "${name}" but must be the stack's name, "${raw.stack}": ` +
                `the workflows deploy stack ${raw.stack} through the GitHub environment of the same name`
            );
        },
    },
    {
        name: "a GitHub App for the production preview",
        checks: "a stack whose deploy job previews with a GitHub App token (production) sets githubApp",
        key: "githubApp",
        fix: "create the App (Contents: read, Members: read), set githubApp.clientId and the githubAppPrivateKey secret",
        problem: (c) => {
            if (
                !c.parsed ||
                c.parsed.githubApp ||
                !c.requiredSecrets.has("githubAppPrivateKey") ||
                !requireSecrets(c)
            ) {
                return undefined;
            }
            const { raw } = c;
            return (
                `is required for stack ${raw.stack}: its deploy job previews the whole stack (reviewers, workflow files) ` +
                `with a read-only GitHub App installation token. Create a GitHub App with Contents: read and Members: read, install it on ` +
                `the repository, then set githubApp.clientId in Pulumi.${raw.stack}.yaml and ${setSecretCommand(raw.stack, "githubAppPrivateKey")}`
            );
        },
    },
    {
        name: "Slack needs its webhook",
        checks: "workflows.slack on the owning stack comes with the slackWebhook secret",
        key: "workflows.slack",
        fix: "set the slackWebhook secret, or workflows.slack: false",
        problem: (c) => {
            if (!c.parsed?.workflows.slack || !c.owns || !requireSecrets(c)) return undefined;
            if (c.raw.values[`${c.raw.project}:slackWebhook`]) return undefined;
            return `is true but the slackWebhook secret is not set. Fix: ${setSecretCommand(c.raw.stack, "slackWebhook")}, or set workflows.slack to false`;
        },
    },
    {
        name: "a digest pins a version",
        checks: "digest is set only together with version",
        key: "digest",
        fix: "set version too, or remove digest",
        problem: ({ parsed, raw }) =>
            parsed?.digest && !parsed.version
                ? `is set without version; a digest pins one version's image. Set both, or remove it: pulumi config rm -s ${raw.stack} digest`
                : undefined,
    },
    {
        name: "a GitHub side needs hosts",
        checks: "a stack with a github section has a deploy section (the DEPLOY_USER and DEPLOY_HOST_* variables)",
        key: "deploy",
        fix: "add the deploy section",
        problem: ({ parsed }) =>
            parsed?.github && !parsed.deploy
                ? "is required when github is set: the DEPLOY_USER and DEPLOY_HOST_* variables come from it"
                : undefined,
    },
    {
        name: "a digest when the hosts do not resolve one",
        checks: "with deploy.resolveDigest false, a version comes with its digest",
        key: "digest",
        fix: "set digest (sha256:...), or deploy.resolveDigest: true",
        problem: ({ parsed, raw }) =>
            parsed?.deploy && !parsed.deploy.resolveDigest && parsed.version && !parsed.digest
                ? `is required with version when deploy.resolveDigest is false; set it with pulumi config set -s ${raw.stack} digest sha256:<64 hex digits>`
                : undefined,
    },
    {
        name: "internal repositories are Enterprise's",
        checks: "github.visibility internal comes with github.plan enterprise",
        key: "github.visibility",
        fix: "set github.plan to enterprise, or the visibility the repository has",
        problem: planRule(
            internalOutsideEnterprise,
            () =>
                "internal repositories exist only in a GitHub Enterprise; set github.plan to enterprise, or the visibility the repository has",
        ),
    },
    {
        name: "the plan offers environments and rulesets",
        checks: "the repository's plan and visibility offer environments, environment secrets and rulesets",
        key: "github.plan",
        fix: "make the repository public, or move the owner to GitHub Pro, Team or Enterprise",
        problem: planRule(
            (p) => !internalOutsideEnterprise(p) && !(p.features.environments && p.features.rulesets),
            (p) =>
                `GitHub ${p.gh.plan} has no environments, environment secrets or rulesets in ${p.gh.visibility} repositories, ` +
                `and the pipeline keeps its deploy credentials in environment secrets and protects main, develop and the release tags with rulesets. ` +
                `Fix: make the repository public (then set github.visibility: public), or move the owner to GitHub Pro, Team or Enterprise and set github.plan`,
        ),
    },
    {
        name: "required reviewers where the plan offers them",
        checks: "environment.reviewers is empty where the plan has no environment protection rules",
        key: "environment.reviewers",
        fix: "remove environment.reviewers, or set github.plan/github.visibility to what the repository has",
        problem: planRule(
            (p) => !p.features.environmentProtection && p.reviewers > 0,
            (p) =>
                `${noProtection(p.gh)}. Fix: remove environment.reviewers, or set github.plan/github.visibility to what the repository has`,
        ),
    },
    {
        name: "a wait timer where the plan offers it",
        checks: "environment.waitTimerMinutes is 0 where the plan has no environment protection rules",
        key: "environment.waitTimerMinutes",
        fix: "remove it, or set it to 0",
        problem: planRule(
            (p) => !p.features.environmentProtection && p.env.waitTimerMinutes > 0,
            (p) => `${noProtection(p.gh)}. Fix: remove it, or set it to 0`,
        ),
    },
    {
        name: "a release needs a reviewer",
        checks: "production, and any environment released from tags, has at least one required reviewer",
        key: "environment.reviewers",
        fix: "set environment.reviewers.users or .teams",
        problem: (c) => {
            const env = c.parsed?.environment;
            const p = plan(c);
            if (!env || (p && !p.features.environmentProtection)) return undefined;
            const reviewers = env.reviewers.users.length + env.reviewers.teams.length;
            return (env.name === "production" || env.deployFrom.tags.length > 0) && reviewers === 0
                ? "needs at least one required reviewer (production, and any environment released from tags): set reviewers.users or reviewers.teams"
                : undefined;
        },
    },
];

/** The problems the cross-field rules find, each as "<project>:<key>: <problem>". */
export function crossFieldProblems(c: RuleContext): string[] {
    return crossFieldRules.flatMap((rule) => {
        const problem = rule.problem(c);
        return problem === undefined ? [] : [`${c.raw.project}:${rule.key}: ${problem}`];
    });
}
