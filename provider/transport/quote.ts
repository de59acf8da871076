/**
 * Shell quoting lives in `../shell/quote` (a leaf that `errors.ts` may import
 * without reaching into the transport). This re-export keeps the doctor's and
 * its replay test's imports working until they import `../shell/quote` itself;
 * it is not a second implementation.
 */
export { quoteArg, quoteArgv } from "../shell/quote";
