/**
 * The patterns config values are matched against. Anything that may reach a shell on a host is
 * matched against a strict pattern; the host-side ones are the deploy component's own
 * (components/deploy/patterns.ts), so the component and the config check the same thing.
 */
import { hostPatterns } from "../components/deploy/patterns";

/** GitHub login: alphanumerics and single inner hyphens, at most 39 characters. */
export const githubLogin = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
/** GitHub team slug as it appears in URLs: lowercase, digits, hyphens, underscores. */
export const teamSlug = /^[a-z0-9][a-z0-9_-]{0,99}$/;
/** GitHub repository name. */
export const repositoryName = /^[A-Za-z0-9_.-]{1,100}$/;
/** A git branch name (a safe subset of git-check-ref-format). */
export const branchName = /^(?!\/|.*(?:\/\/|\.\.|@\{|\/$|\.lock$|\.$))[A-Za-z0-9._/-]{1,200}$/;
/** A ref pattern GitHub accepts for deployment policies: ref characters plus the globs * ? [ ]. */
export const refPattern = /^(?!\/|.*(?:\/\/|\.\.|@\{|\/$))[A-Za-z0-9._/*?[\]-]{1,200}$/;
/** A relative path inside the app repository. */
export const relativePath = /^(?![/-])(?!.*\.\.)[A-Za-z0-9._/-]+$/;

export { hostPatterns };

/** Whether a ref pattern's [ ] brackets are balanced and not nested. */
export function refPatternBalanced(pattern: string): boolean {
    let open = false;
    for (const c of pattern) {
        if (c === "[") {
            if (open) return false;
            open = true;
        } else if (c === "]") {
            if (!open) return false;
            open = false;
        }
    }
    return !open;
}
