/**
 * What a repository can have on GitHub, by the owner's plan and the repository's visibility. The
 * config validation, the program and README take the answer from here.
 *
 * GitHub's documentation, "Who can use this feature?":
 * - Rulesets: "available in public repositories with GitHub Free and GitHub Free for
 *   organizations, and in public and private repositories with GitHub Pro, GitHub Team, and GitHub
 *   Enterprise Cloud" (docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets).
 * - Environments: "Environments, environment secrets, and deployment protection rules are available
 *   in public repositories for all current GitHub plans. [...] For access to environments,
 *   environment secrets, and deployment branches in private or internal repositories, you must use
 *   GitHub Pro, GitHub Team, or GitHub Enterprise. If you are on a GitHub Free, GitHub Pro, or
 *   GitHub Team plan, other deployment protection rules, such as a wait timer or required
 *   reviewers, are only available for public repositories."
 *   (docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/manage-environments)
 */

/** GitHub plans, as config names them. */
export const githubPlans = ["free", "pro", "team", "enterprise"] as const;
export type GithubPlan = (typeof githubPlans)[number];

/** Repository visibilities; `internal` exists only in an enterprise. */
export const repositoryVisibilities = ["public", "private", "internal"] as const;
export type RepositoryVisibility = (typeof repositoryVisibilities)[number];

/** What GitHub offers a repository of this visibility on this plan. */
export interface PlanFeatures {
    /** Branch and tag rulesets. */
    readonly rulesets: boolean;
    /** Environments, environment secrets and deployment branch/tag policies. */
    readonly environments: boolean;
    /**
     * Required reviewers and wait timers on environments (and with reviewers, self-review
     * prevention). Where they are missing GitHub answers 422 to an environment that sets them.
     */
    readonly environmentProtection: boolean;
}

export function planFeatures(plan: GithubPlan, visibility: RepositoryVisibility): PlanFeatures {
    if (visibility === "public") return { rulesets: true, environments: true, environmentProtection: true };
    const paid = plan !== "free";
    return { rulesets: paid, environments: paid, environmentProtection: plan === "enterprise" };
}

/**
 * Repository roles a ruleset can let bypass it, with the IDs GitHub's API uses for them. They are
 * not in order of power (write is 4, maintain 2): github/rest-api-description#7111,
 * integrations/terraform-provider-github#1916.
 */
export const repositoryRoles = { admin: 5, maintain: 2, write: 4 } as const;
export type RepositoryRole = keyof typeof repositoryRoles;

/**
 * The GitHub Actions app's ID. A required check bound to it is satisfied only by a check run that
 * GitHub Actions reports; a commit status posted through the statuses API with the same name (by
 * anyone with write access) does not count. Verified by GitHub's own check runs:
 * `curl https://api.github.com/repos/rust-lang/rust/commits/HEAD/check-runs` reports
 * "app": {"id": 15368, "slug": "github-actions"} (rust-lang/team#2200).
 */
export const githubActionsAppId = 15368;
