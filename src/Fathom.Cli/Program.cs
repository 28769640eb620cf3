using Fathom.Cli;

return FathomCli.Run(args, CliConsole.Standard());
