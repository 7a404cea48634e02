/** cli-table3's own width of a cell's text (widest line, ANSI codes not counted): what it sizes columns by. */
declare module "cli-table3/src/utils.js" {
  const utils: { strlen(text: string): number };
  export default utils;
}
