/** The environment section: the stack's GitHub environment, where it deploys from and who approves. */
import { z } from "zod";
import { githubLogin, refPattern, refPatternBalanced, teamSlug } from "./patterns";

const reviewersSchema = z
    .strictObject({
        users: z
            .array(
                z.string().regex(githubLogin, {
                    error: "must be a GitHub login without @, such as bob",
                }),
            )
            .default([]),
        teams: z
            .array(
                z.string().regex(teamSlug, {
                    error: "must be a team slug without the organization, such as platform-team",
                }),
            )
            .default([]),
    })
    .refine((r) => r.users.length + r.teams.length <= 6, {
        error: "lists more than 6 reviewers; GitHub allows at most 6 users and teams in total",
    })
    .prefault({});

const tagOrBranchPattern = (what: string) =>
    z
        .string()
        .regex(refPattern, {
            error: `must be a ${what} pattern such as ${what === "tag" ? "v*" : "develop or release/*"} (glob characters * ? [ ] only; no spaces, ^, $ or \\)`,
        })
        .refine(refPatternBalanced, { error: `must be a ${what} pattern with balanced [ ]` });

export const environmentSchema = z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, {
        error: "must be a lowercase environment name such as staging or production",
    }),
    url: z.url({
        protocol: /^https?$/,
        error: "must be the environment's http(s) URL, such as https://staging.example.com",
    }),
    deployFrom: z
        .strictObject({
            branches: z.array(tagOrBranchPattern("branch")).default([]),
            tags: z.array(tagOrBranchPattern("tag")).default([]),
        })
        .refine((d) => d.branches.length + d.tags.length > 0, {
            error: "must list at least one branch or tag pattern, such as branches: [develop] or tags: [v*]",
        }),
    reviewers: reviewersSchema,
    preventSelfReview: z.boolean().default(true),
    adminsBypass: z.boolean().default(false),
    waitTimerMinutes: z.number().int().min(0).max(43200).default(0),
});
