/** The error `promise` rejects with, for a test to inspect; a promise that resolves fails the test. */
export const failure = async (promise: Promise<unknown>): Promise<Error & Record<string, unknown>> =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as Error & Record<string, unknown>,
  );
