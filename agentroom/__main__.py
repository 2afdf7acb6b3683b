from agentroom.cli.main import main

main()
