import { SchemaValidationError, type Interceptor, type QueryResultRow } from "slonik";

/**
 * Check every row against the schema of its `sql.type(...)` query. Slonik carries the schema with
 * the query but checks rows only through an interceptor; without this one, a row edited by hand or
 * changed by a later migration would flow on with the wrong types instead of failing loudly.
 * (The resulting SchemaValidationError holds SQL, values and the row; wrapDatabaseError keeps none
 * of that.)
 */
export function createResultParserInterceptor(): Interceptor {
  return {
    name: "ipam-result-parser",
    transformRow: (context, query, row) => {
      const parser = context.resultParser;
      if (parser === undefined) return row;
      const result = parser["~standard"].validate(row);
      if (result instanceof Promise) throw new TypeError("row schemas must validate synchronously");
      if (result.issues !== undefined) throw new SchemaValidationError(query, row, result.issues);
      return result.value as QueryResultRow;
    },
  };
}
