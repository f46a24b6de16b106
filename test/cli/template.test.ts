import { compileTemplate, renderTemplate, TemplateError } from '../../src/cli/template.js';
import { formatListing } from '../../src/cli/format.js';

const value = {
  Name: '/web',
  State: { ExitCode: 3, Running: false },
  Config: { Env: ['A=1', 'B=2'], Labels: { zeta: 'z', alpha: 'a' } },
  Empty: [],
};

describe('Go templates (--format)', () => {
  it('prints fields as Go does, and JSON on request', () => {
    expect(renderTemplate('{{.State.ExitCode}} {{ .Name }} {{.State.Running}}', value)).toBe('3 /web false');
    expect(renderTemplate('{{json .Config.Env}}', value)).toBe('["A=1","B=2"]');
    expect(renderTemplate('{{.Missing.Field}}', value)).toBe('<no value>');
    expect(renderTemplate('{{.Config.Env}}', value)).toBe('[A=1 B=2]');
    expect(renderTemplate('{{.Config.Labels}}', value)).toBe('map[alpha:a zeta:z]');
  });

  it('ranges over lists and maps (keys sorted, as Go does), with else', () => {
    expect(renderTemplate('{{range .Config.Env}}<{{.}}>{{end}}', value)).toBe('<A=1><B=2>');
    expect(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', value)).toBe('alpha=a;zeta=z;');
    expect(renderTemplate('{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}', value)).toBe('0:A=1 1:B=2 ');
    expect(renderTemplate('{{range .Empty}}x{{else}}none{{end}}', value)).toBe('none');
    expect(renderTemplate('{{range .Config.Env}}{{$.Name}}{{end}}', value)).toBe('/web/web');
  });

  it('has if/else if/else, with, pipes, functions and trim markers', () => {
    expect(renderTemplate('{{if .State.Running}}up{{else if eq .State.ExitCode 3}}three{{else}}other{{end}}', value)).toBe('three');
    expect(renderTemplate('{{with .Config}}{{len .Env}}{{end}}', value)).toBe('2');
    expect(renderTemplate('{{.Name | upper}} {{join .Config.Env ","}} {{index .Config.Labels "zeta"}}', value)).toBe('/WEB A=1,B=2 z');
    expect(renderTemplate('{{printf "%-5s|" .Name}}', value)).toBe('/web |');
    expect(renderTemplate('a  {{- .Name -}}  b', value)).toBe('a/webb');
    expect(renderTemplate('{{$x := .Name}}{{$x}}{{/* a comment */}}', value)).toBe('/web');
  });

  it('refuses what does not parse, naming the part', () => {
    expect(() => compileTemplate('{{.A}} {{if .B}}')).toThrow(/has no \{\{end\}\}/);
    expect(() => compileTemplate('{{nosuch .A}}')).toThrow(TemplateError);
    expect(() => compileTemplate('{{.A')).toThrow(/not closed/);
    expect(() => compileTemplate('{{end}}')).toThrow(/no \{\{if\}\}/);
  });
});

describe('listings through --format', () => {
  const rows = [
    { Repository: 'hello', Tag: 'latest', ID: 'abc' },
    { Repository: 'longer-name', Tag: '1', ID: 'def' },
  ];
  const options = { defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}', headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' } };
  it('makes a table with a header from the field names', () => {
    expect(formatListing('table {{.Repository}}\\t{{.ID}}', rows, options)).toBe('REPOSITORY   IMAGE ID\nhello        abc\nlonger-name  def\n');
    expect(formatListing('table', rows, options).split('\n')[0]).toBe('REPOSITORY   TAG     IMAGE ID');
  });
  it('prints one line per row for a template, one JSON object per row for json', () => {
    expect(formatListing('{{.Repository}}:{{.Tag}}', rows, options)).toBe('hello:latest\nlonger-name:1\n');
    expect(formatListing('json', rows, options).trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual(rows);
    expect(formatListing('{{json .}}', rows, options).split('\n')[0]).toBe(JSON.stringify(rows[0]));
  });
});
