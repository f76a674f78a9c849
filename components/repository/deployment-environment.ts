import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { actionsSecretOptions } from "./actions-secret";

/** Arguments of a DeploymentEnvironment component. */
export interface DeploymentEnvironmentArgs {
    /** Repository name, without the owner. */
    readonly repository: pulumi.Input<string>;
    /** Environment name, such as staging or production. */
    readonly environment: string;
    /** Branch patterns allowed to deploy to the environment. Default: none. */
    readonly branchPatterns?: string[];
    /** Tag patterns allowed to deploy to the environment. Default: none. */
    readonly tagPatterns?: string[];
    /** GitHub logins whose approval a deployment needs. Default: none. */
    readonly reviewerLogins?: string[];
    /** Team slugs (of the repository's organization) whose approval a deployment needs. Default: none. */
    readonly reviewerTeams?: string[];
    /** Refuse approval by the person who triggered the deployment. Default: true. */
    readonly preventSelfReview?: boolean;
    /** Let administrators bypass the protection rules. Default: false. */
    readonly adminsBypass?: boolean;
    /** Minutes to wait before a deployment proceeds. Default: 0. */
    readonly waitTimerMinutes?: number;
    /**
     * Whether the repository's plan offers required reviewers and wait timers on environments
     * (github-plan.ts). Without them GitHub answers 422 to an environment that sets either, so
     * none is sent: reviewers and the wait timer must then be empty. Default: true.
     */
    readonly protectionRules?: boolean;
    /** Environment secrets: name to value; each value must be a secret Output. */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
}

/** Looks up one reviewer's numeric ID, failing with a message that says which reviewer and why. */
async function reviewerId(
    kind: "user" | "team",
    lookup: () => Promise<{ id: string }>,
    who: string,
    component: pulumi.Resource | undefined,
): Promise<number> {
    try {
        return Number((await lookup()).id);
    } catch (e) {
        throw new pulumi.ResourceError(
            `environment reviewer ${kind} "${who}" could not be resolved on GitHub (check the spelling, and that the ` +
                `token can read ${kind === "team" ? "the organization's teams" : "users"}): ${e instanceof Error ? e.message : e}`,
            component,
        );
    }
}

/** Resolves GitHub logins to the numeric user IDs environment reviewers require. */
function userIds(logins: string[], opts: pulumi.InvokeOptions): pulumi.Output<number[]> {
    return pulumi.output(
        Promise.all(
            logins.map((username) =>
                reviewerId("user", () => github.getUser({ username }, opts), username, opts.parent),
            ),
        ),
    );
}

/** Resolves team slugs to the numeric team IDs environment reviewers require. */
function teamIds(slugs: string[], opts: pulumi.InvokeOptions): pulumi.Output<number[]> {
    return pulumi.output(
        Promise.all(
            slugs.map((slug) =>
                reviewerId(
                    "team",
                    () => github.getTeam({ slug, summaryOnly: true }, opts),
                    slug,
                    opts.parent,
                ),
            ),
        ),
    );
}

/**
 * A GitHub deployment environment with its protection rules and its own secrets. Deployments are
 * allowed only from the listed branch and tag patterns; jobs read the secrets only once bound to
 * the environment (and, where reviewers are set, approved).
 */
export class DeploymentEnvironment extends pulumi.ComponentResource {
    public readonly name: pulumi.Output<string>;
    /** The names of the environment's secrets (never their values). */
    public readonly secretNames: pulumi.Output<string[]>;

    constructor(name: string, args: DeploymentEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:repository:DeploymentEnvironment", name, {}, opts);
        const invokeOpts = { parent: this };
        const logins = args.reviewerLogins ?? [];
        const teams = args.reviewerTeams ?? [];
        const hasReviewers = logins.length + teams.length > 0;
        if (args.protectionRules === false && (hasReviewers || (args.waitTimerMinutes ?? 0) > 0)) {
            throw new pulumi.ResourceError(
                `environment ${args.environment}: the repository's plan has no required reviewers or wait timers; none can be set`,
                this,
            );
        }

        const environment = new github.RepositoryEnvironment(
            `${name}-environment`,
            {
                repository: args.repository,
                environment: args.environment,
                reviewers: hasReviewers
                    ? [{ users: userIds(logins, invokeOpts), teams: teamIds(teams, invokeOpts) }]
                    : undefined,
                // Self-review prevention belongs to the required reviewers rule: GitHub refuses it
                // without a reviewer ("Required reviewers must have at least one reviewer to set
                // prevent_self_review", github-community-projects/safe-settings#628), and the
                // provider always sends it (resource_github_repository_environment.go v6.13.0:367).
                preventSelfReview: hasReviewers && (args.preventSelfReview ?? true),
                canAdminsBypass: args.adminsBypass ?? false,
                // The provider sends a wait timer only when it is not 0 (same file, :361).
                waitTimer: args.waitTimerMinutes ?? 0,
                deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
            },
            { parent: this },
        );

        const policies: [kind: "branch" | "tag", pattern: string][] = [
            ...(args.branchPatterns ?? []).map((p): ["branch", string] => ["branch", p]),
            ...(args.tagPatterns ?? []).map((p): ["tag", string] => ["tag", p]),
        ];
        for (const [kind, pattern] of policies) {
            new github.RepositoryEnvironmentDeploymentPolicy(
                `${name}-${kind}-${pattern}`,
                {
                    repository: args.repository,
                    environment: environment.environment,
                    ...(kind === "branch" ? { branchPattern: pattern } : { tagPattern: pattern }),
                },
                { parent: this },
            );
        }

        const secretNames = Object.keys(args.secrets).sort();
        for (const secretName of secretNames) {
            new github.ActionsEnvironmentSecret(
                `${name}-${secretName.toLowerCase().replace(/_/g, "-")}`,
                {
                    repository: args.repository,
                    environment: environment.environment,
                    secretName,
                    value: pulumi.secret(args.secrets[secretName]),
                },
                actionsSecretOptions(this),
            );
        }

        this.name = environment.environment;
        this.secretNames = pulumi.output(secretNames);
        this.registerOutputs({ name: this.name, secretNames: this.secretNames });
    }
}
