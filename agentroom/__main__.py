from agentroom.cli import main

main()
