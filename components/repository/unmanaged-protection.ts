import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";

/**
 * What a repository adopted by the pipeline may still have from before, that the pipeline does not
 * manage and GitHub keeps enforcing (or allowing) beside what the stack declares. Nothing here is
 * changed: each is named in a warning, with what to do about it.
 */

/** Arguments of `warnAboutClassicProtection`. */
export interface ClassicProtectionCheck {
    readonly owner: string;
    readonly repository: string;
    /** Branch name to the name of the ruleset that now protects it. */
    readonly rulesets: Readonly<Record<string, string>>;
}

/**
 * Classic branch protection rules left on the branches the rulesets protect. GitHub enforces both
 * (the stricter requirement wins), so a classic rule keeps blocking pull requests with checks it
 * requires by other names, and keeps any looser setting from looking like the rule in force.
 */
export async function warnAboutClassicProtection(
    check: ClassicProtectionCheck,
    opts: pulumi.InvokeOptions,
): Promise<string[]> {
    let patterns: string[];
    try {
        const result = await github.getBranchProtectionRules({ repository: check.repository }, opts);
        patterns = (result.rules ?? []).map((r) => r.pattern);
    } catch (e) {
        pulumi.log.warn(
            `could not list the classic branch protection rules of ${check.owner}/${check.repository} ` +
                `(${e instanceof Error ? e.message : e}); check Settings > Branches by hand for rules left beside the rulesets`,
        );
        return [];
    }
    const found: string[] = [];
    for (const pattern of patterns) {
        for (const branch of Object.keys(check.rulesets).filter((b) => classicPatternMatches(pattern, b))) {
            found.push(pattern);
            // The REST endpoint addresses a rule by branch name, so only a rule named exactly so.
            const remove =
                pattern === branch
                    ? `gh api -X DELETE repos/${check.owner}/${check.repository}/branches/${branch}/protection (or Settings > Branches > Delete)`
                    : `Settings > Branches > the rule "${pattern}" > Delete, or narrow its pattern so that it no longer matches ${branch}`;
            pulumi.log.warn(
                `branch ${branch} is also protected by a classic branch protection rule (pattern "${pattern}"), which GitHub keeps ` +
                    `enforcing beside the ruleset "${check.rulesets[branch]}". Once this update has created the ruleset, delete ` +
                    `the classic rule: ${remove}`,
            );
        }
    }
    return [...new Set(found)];
}

/**
 * Whether a classic rule's pattern covers a branch. GitHub matches classic patterns with Ruby's
 * File.fnmatch and File::FNM_PATHNAME, backslashes unsupported ("About branch protection rules",
 * docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/managing-a-branch-protection-rule):
 * * and ? stay within a path segment, two stars and a slash span zero or more segments, [...] is a set.
 */
export function classicPatternMatches(pattern: string, branch: string): boolean {
    let re = "";
    for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (pattern.startsWith("**/", i)) {
            // Zero or more whole path segments.
            re += "(?:[^/]*/)*";
            i += 2;
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else if (c === "[") {
            const end = pattern.indexOf("]", i + 1);
            if (end < 0) re += "\\[";
            else {
                const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
                re += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
                i = end;
            }
        } else re += c.replace(/[.+^${}()|\\/]/g, "\\$&");
    }
    return new RegExp(`^${re}$`).test(branch);
}

/** Arguments of `warnAboutUnmanagedDeploymentPolicies`. */
export interface DeploymentPolicyCheck {
    readonly owner: string;
    readonly repository: string;
    readonly environment: string;
    /** The policies the stack declares: "branch <pattern>" and "tag <pattern>". */
    readonly declared: readonly string[];
}

/**
 * Deployment branch and tag policies of the environment that the stack does not declare: each one
 * lets more refs deploy (and read the environment's secrets) than the stack says. An environment
 * that does not exist yet has none.
 */
export async function warnAboutUnmanagedDeploymentPolicies(
    check: DeploymentPolicyCheck,
    opts: pulumi.InvokeOptions,
): Promise<string[]> {
    let existing: string[];
    try {
        const result = await github.getRepositoryEnvironmentDeploymentPolicies(
            { repository: check.repository, environment: check.environment },
            opts,
        );
        existing = (result.policies ?? []).map((p) => `${p.type} ${p.pattern}`);
    } catch {
        return [];
    }
    const extra = existing.filter((p) => !check.declared.includes(p));
    for (const policy of extra) {
        pulumi.log.warn(
            `environment ${check.environment} also lets ${policy} deploy, which this stack does not declare: jobs from it can ` +
                `read the environment's secrets. Remove it in Settings > Environments > ${check.environment} > Deployment branches and tags, ` +
                `or add it to environment.deployFrom`,
        );
    }
    return extra;
}
