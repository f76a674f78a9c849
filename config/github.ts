/** The github section: the repository, its branches, plan and release managers; and the GitHub App. */
import { z } from "zod";
import { githubPlans, repositoryRoles, repositoryVisibilities } from "../components/repository/github-plan";
import { githubLogin, repositoryName, branchName, teamSlug } from "./patterns";

export const githubSchema = z.strictObject({
    owner: z.string().regex(githubLogin, {
        error: "must be a GitHub user or organization name, such as acme (no @, no URL)",
    }),
    repository: z.string().regex(repositoryName, {
        error: "must be the repository name without the owner, such as web-app",
    }),
    repositoryObjectsStack: z.string().regex(/^[A-Za-z0-9_.-]+$/, {
        error: "must name the one stack (such as production) that declares branch protection, repository secrets and workflow files",
    }),
    branches: z
        .strictObject({
            main: z
                .string()
                .regex(branchName, { error: "must be a branch name such as main" })
                .default("main"),
            develop: z
                .string()
                .regex(branchName, { error: "must be a branch name such as develop" })
                .default("develop"),
        })
        .prefault({}),
    requiredApprovals: z
        .number({ error: "must be a whole number of approving reviews, 1 or more" })
        .int({ error: "must be a whole number of approving reviews, 1 or more" })
        .min(1, { error: "must be at least 1: main requires an approving review before merging" })
        .max(6, { error: "must be at most 6 (GitHub's limit)" })
        .default(1),
    /** What GitHub offers the repository depends on it and the plan: see github-plan.ts. */
    visibility: z
        .enum(repositoryVisibilities, {
            error: "must be public, private or internal: the repository's visibility on GitHub",
        })
        .default("public"),
    plan: z
        .enum(githubPlans, {
            error: "must be free, pro, team or enterprise: the GitHub plan of the repository's owner",
        })
        .default("free"),
    /** Who may create, move or delete release tags; the release-tag ruleset lets only them. */
    releaseManagers: z
        .strictObject({
            roles: z
                .array(
                    z.enum(Object.keys(repositoryRoles) as [keyof typeof repositoryRoles], {
                        error: `must be a repository role: ${Object.keys(repositoryRoles).join(", ")}`,
                    }),
                )
                .default([]),
            teams: z
                .array(
                    z.string().regex(teamSlug, {
                        error: "must be a team slug without the organization, such as release-managers",
                    }),
                )
                .default([]),
        })
        .refine((r) => r.roles.length + r.teams.length > 0, {
            error: "must name at least one repository role or team (such as roles: [admin]); otherwise nobody could create a release tag",
        })
        // Absent: repository administrators, as GitHub's own default bypass suggests.
        .default({ roles: ["admin"], teams: [] }),
});

/** The GitHub App whose installation tokens the production deploy job's preview uses. */
export const githubAppSchema = z.strictObject({
    clientId: z.string().regex(/^(?:Iv[0-9A-Za-z.]{2,40}|[0-9]{1,12})$/, {
        error: "must be the GitHub App's client ID (Iv23..., on the App's settings page) or its numeric App ID",
    }),
});
